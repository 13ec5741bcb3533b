// CTongxinProtos: the protoc-c output of every proto of the suite, as seen from Swift.
// Swift sees only these lookups; the generated structs stay C-side (Shared/Model reads and
// writes them through libprotobuf-c descriptors). tables.c, written by Tools/generate.sh,
// defines them.
#ifndef CTONGXINPROTOS_H
#define CTONGXINPROTOS_H
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

/// How many message descriptors protoc-c generated.
size_t CTongxinProtos_message_descriptor_count(void);
/// The descriptor at `index`, or NULL past the end.
const ProtobufCMessageDescriptor *CTongxinProtos_message_descriptor(size_t index);
/// Every file's serialized FileDescriptorProto, back to back (see DescriptorPool).
const unsigned char *CTongxinProtos_descriptor_blob(void);
/// The size of the blob in bytes.
size_t CTongxinProtos_descriptor_blob_size(void);
#endif
