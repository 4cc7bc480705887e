// libzip (Debian's libzip-dev) for the `.keras` archive; no API of its own.
#include <zip.h>
