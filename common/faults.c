/* SPDX-License-Identifier: Apache-2.0 */
/* Fault injection points; see faults.h. */
#include "common/faults.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"

bool avtb_fault(const char *point)
{
    const char *list = getenv("AVTB_FAULTS");
    size_t n = strlen(point);

    if (list == NULL || n == 0)
        return false;
    for (const char *p = list; (p = strstr(p, point)) != NULL; p += n) {
        bool starts = p == list || p[-1] == ',';
        bool ends = p[n] == '\0' || p[n] == ',';

        if (starts && ends) {
            avtb_warn("fault injection: %s (AVTB_FAULTS)", point);
            return true;
        }
    }
    return false;
}
