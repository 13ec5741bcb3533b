// CProtobufC: libprotobuf-c (Debian 1.4) as seen from Swift.
#ifndef CPROTOBUFC_SHIM_H
#define CPROTOBUFC_SHIM_H
#include <protobuf-c/protobuf-c.h>

/// The address of libprotobuf-c's shared empty string, which generated messages use as the
/// default value of proto3 string fields (a macro-ish global Swift cannot take the address of).
static inline const char *CProtobufC_empty_string(void) { return protobuf_c_empty_string; }
#endif
