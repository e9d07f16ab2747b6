/* StrokeLab's optional native kernels (see common/native/__init__.py): bezier13 coverage and box-over
 * compositing, in float32 and float64, built on first use and called through ctypes. */
#include <math.h>
#include <stdint.h>
#include <stddef.h>

#define REAL float
#define SFX _f32
#define SQRT sqrtf
#include "kernels_impl.h"
#undef REAL
#undef SFX
#undef SQRT

#define REAL double
#define SFX _f64
#define SQRT sqrt
#include "kernels_impl.h"
#undef REAL
#undef SFX
#undef SQRT
