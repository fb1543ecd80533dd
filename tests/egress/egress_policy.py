"""The sandbox policy the egress suites start from: the system read-only, a
fresh /tmp, the workdir, an unprivileged user, and the network rules (and
mode) each test names."""
import textwrap


def policy_text(network_policies, mode=None):
    """`network_policies` is the YAML mapping of rules, at any indentation."""
    text = "version: 1\n"
    if mode is not None:
        text += "network:\n  mode: %s\n" % mode
    text += textwrap.dedent("""\
        filesystem_policy:
          include_workdir: true
          read_only: [/usr, /lib, /lib64, /bin, /etc]
          read_write: [/tmp]
        process:
          run_as_user: nobody
        network_policies:
        """)
    return text + textwrap.indent(textwrap.dedent(network_policies), "  ")
