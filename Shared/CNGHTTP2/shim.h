// CNGHTTP2: libnghttp2 (Debian 1.52, the ssize_t API) as seen from Swift.
#ifndef CNGHTTP2_SHIM_H
#define CNGHTTP2_SHIM_H
#include <nghttp2/nghttp2.h>
#endif
