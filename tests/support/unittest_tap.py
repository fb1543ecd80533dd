"""Runs a test module's unittest cases and reports each to meson in TAP.

unittest's own runner exits 0 when every case was skipped, so meson showed
skips inside a Python test as OK and its summary never counted them. With
`protocol: 'tap'` meson sees each case: a skip is a skip, and a test whose
cases were all skipped is SKIP, not OK.

Usage, at the end of a test module:  unittest_tap.main(sys.argv[1:])
Arguments are unittest names (Class or Class.test_name), as for unittest.
"""
import os
import sys
import traceback
import unittest


class _TapResult(unittest.TestResult):
    def __init__(self, out):
        super().__init__()
        self.out = out
        self.number = 0

    def _line(self, text, diagnostics=""):
        self.number += 1
        self.out.write("%s %d - %s\n" % (text[0], self.number, text[1]))
        for line in diagnostics.splitlines():
            self.out.write("# %s\n" % line)
        self.out.flush()

    def startTest(self, test):
        super().startTest(test)
        print("=== %s" % test.id(), file=sys.stderr, flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(("ok", test.id()))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._report_failure(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._report_failure(test, err)

    def _report_failure(self, test, err):
        text = "".join(traceback.format_exception(*err))
        print(text, file=sys.stderr, flush=True)
        self._line(("not ok", test.id() if hasattr(test, "id") else str(test)), text)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        print("SKIPPED %s: %s" % (test.id(), reason), file=sys.stderr, flush=True)
        self._line(("ok", "%s # SKIP %s" % (test.id(), reason.replace("#", ""))))

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._line(("ok", test.id() + " # TODO expected failure"))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._line(("not ok", test.id() + " (unexpected success)"))


def main(names):
    # TAP owns stdout; anything else the tests or their children print goes
    # to stderr, where meson keeps it in the log.
    tap = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    module = sys.modules["__main__"]
    loader = unittest.TestLoader()
    suite = loader.loadTestsFromNames(names, module) if names else loader.loadTestsFromModule(module)
    result = _TapResult(tap)
    suite.run(result)
    # The plan comes last: module and class fixtures that fail add entries.
    tap.write("1..%d\n" % result.number)
    tap.flush()
    sys.exit(0 if result.wasSuccessful() else 1)
