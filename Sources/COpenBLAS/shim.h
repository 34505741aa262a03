// Debian's libopenblas-dev CBLAS header (the pkg-config include path selects the pthread build);
// linked against the shared libopenblas. Used only by the benchmark's baseline.
#include <cblas.h>
