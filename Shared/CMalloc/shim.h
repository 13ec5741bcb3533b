// CMalloc: glibc's allocator settings (mallopt), for ServiceKit's AllocatorTuning.
#ifndef CMALLOC_SHIM_H
#define CMALLOC_SHIM_H
#include <malloc.h>
#endif
