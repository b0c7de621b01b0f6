// Compiles the one public header named by MMSG_HEADER (a path under include/, set by the
// Jamfile) on its own, twice: it must be self-contained and its include guard must work.
#define MMSG_HYGIENE_STR2(x) #x
#define MMSG_HYGIENE_STR(x) MMSG_HYGIENE_STR2(x)
#include MMSG_HYGIENE_STR(MMSG_HEADER)
#include MMSG_HYGIENE_STR(MMSG_HEADER)
