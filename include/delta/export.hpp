// What a shared libdelta.so exports.
//
// delta is compiled with hidden visibility: a shared build exports exactly what the public
// headers declare, and none of its internals. Every public header wraps its declarations
// in DELTA_PUBLIC_BEGIN ... DELTA_PUBLIC_END, so that nothing declared there can be
// forgotten; a header of src/ never uses them. An internal class that a public header
// must name (a forward declaration, for a pointer to it) is declared DELTA_INTERNAL, so
// that it stays hidden. (A static libdelta.a is unaffected.)
#pragma once

#if defined(__GNUC__)
#define DELTA_PUBLIC_BEGIN _Pragma("GCC visibility push(default)")
#define DELTA_PUBLIC_END _Pragma("GCC visibility pop")
#define DELTA_INTERNAL __attribute__((visibility("hidden")))
#else
#define DELTA_PUBLIC_BEGIN
#define DELTA_PUBLIC_END
#define DELTA_INTERNAL
#endif
