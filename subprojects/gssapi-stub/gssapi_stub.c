/*
 * GSSAPI entry points that Debian's static libssh references.
 *
 * The SSH bridge only ever enables public-key authentication
 * (ssh_set_auth_methods(SSH_AUTH_METHOD_PUBLICKEY)), so libssh never calls
 * into GSSAPI. Should that ever change by mistake, every call fails with
 * GSS_S_FAILURE instead of crashing or succeeding: fail closed.
 *
 * The signatures are reduced to (minor_status, ...): on the x86-64 and
 * aarch64 calling conventions the callee may ignore trailing arguments.
 */
#include <stddef.h>
#include <stdint.h>

typedef uint32_t OM_uint32;

typedef struct gss_OID_desc_struct {
  OM_uint32 length;
  void *elements;
} gss_OID_desc;

#define GSS_S_COMPLETE 0u
#define GSS_S_FAILURE (13u << 16)

/* RFC 2744 section 4: the two name types libssh imports. */
static gss_OID_desc nt_hostbased_service = {10, "\x2a\x86\x48\x86\xf7\x12\x01\x02\x01\x04"};
static gss_OID_desc nt_user_name = {10, "\x2a\x86\x48\x86\xf7\x12\x01\x02\x01\x01"};
gss_OID_desc *const GSS_C_NT_HOSTBASED_SERVICE = &nt_hostbased_service;
gss_OID_desc *const GSS_C_NT_USER_NAME = &nt_user_name;

static OM_uint32 refuse(OM_uint32 *minor_status) {
  if (minor_status != NULL) *minor_status = 0;
  return GSS_S_FAILURE;
}

static OM_uint32 release(OM_uint32 *minor_status) {
  if (minor_status != NULL) *minor_status = 0;
  return GSS_S_COMPLETE;
}

#define REFUSE(name) \
  OM_uint32 name(OM_uint32 *minor_status, ...) { return refuse(minor_status); }
#define RELEASE(name) \
  OM_uint32 name(OM_uint32 *minor_status, ...) { return release(minor_status); }

REFUSE(gss_accept_sec_context)
REFUSE(gss_acquire_cred)
REFUSE(gss_add_oid_set_member)
REFUSE(gss_create_empty_oid_set)
REFUSE(gss_display_name)
REFUSE(gss_display_status)
REFUSE(gss_get_mic)
REFUSE(gss_import_name)
REFUSE(gss_indicate_mechs)
REFUSE(gss_init_sec_context)
REFUSE(gss_inquire_cred)
REFUSE(gss_inquire_cred_by_mech)
REFUSE(gss_test_oid_set_member)
REFUSE(gss_verify_mic)
RELEASE(gss_release_buffer)
RELEASE(gss_release_cred)
RELEASE(gss_release_name)
RELEASE(gss_release_oid_set)
