/* Compiler attributes and small helpers shared by every layer. */
#ifndef PV_DEFS_H
#define PV_DEFS_H

#include <stddef.h>

#define PV_WUR          __attribute__((warn_unused_result))
#define PV_UNUSED       __attribute__((unused))
#define PV_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define PV_NELEM(a)     (sizeof(a) / sizeof((a)[0]))

#endif
