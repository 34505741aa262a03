// Debian's libxxhash-dev header; linked against the shared libxxhash, not inlined.
#include <xxhash.h>
