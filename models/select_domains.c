/* Feature domains from column names, for soft forward selection:
 *   "ica25c03-ica50c12" -> "ica25-ica50"   (FNC edge: block of an order pair)
 *   "ica25c03"          -> "ica25"         (a component-level feature)
 *   "alff_roi12"        -> "alff_roi"      (anything else: trailing digits
 *                                           and separators removed) */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "models/classify_int.h"

/* Strips "c<digits>" after a digit ("ica25c03" -> "ica25"), else trailing
 * digits and separators. Works in place on s[0..len). Returns new length. */
static size_t strip_part(const char *s, size_t len)
{
    size_t e = len;
    while (e > 0 && isdigit((unsigned char)s[e - 1]))
        e--;
    if (e < len && e >= 2 && s[e - 1] == 'c' && isdigit((unsigned char)s[e - 2]))
        return e - 1;
    while (e > 0 && strchr("_-.", s[e - 1]))
        e--;
    return e ? e : len; /* all digits: keep the name */
}

static char *domain_of(const char *name)
{
    size_t len = strlen(name);
    char *out = malloc(len + 2);
    if (!out)
        return NULL;
    const char *dash = strchr(name, '-');
    if (dash && dash != name && dash[1]) {
        size_t la = strip_part(name, (size_t)(dash - name));
        size_t lb = strip_part(dash + 1, strlen(dash + 1));
        memcpy(out, name, la);
        out[la] = '-';
        memcpy(out + la + 1, dash + 1, lb);
        out[la + 1 + lb] = '\0';
    } else {
        size_t l = strip_part(name, len);
        memcpy(out, name, l);
        out[l] = '\0';
    }
    return out;
}

ns_status ns_select_domains_from_names(const char *const *colnames, size_t p, int *domain,
                                       char ***names, int *ndomain)
{
    char **nm = ns_calloc(p ? p : 1, sizeof *nm);
    if (!nm)
        return NS_ERR_NOMEM;
    int nd = 0;
    for (size_t j = 0; j < p; j++) {
        char *d = domain_of(colnames[j]);
        if (!d) {
            for (int t = 0; t < nd; t++)
                free(nm[t]);
            free(nm);
            return ns_error(NS_ERR_NOMEM, "out of memory naming domains");
        }
        int found = -1;
        for (int t = nd - 1; t >= 0 && found < 0; t--) /* columns come grouped: search back */
            if (!strcmp(nm[t], d))
                found = t;
        if (found < 0) {
            nm[nd] = d;
            found = nd++;
        } else {
            free(d);
        }
        domain[j] = found;
    }
    *names = nm;
    *ndomain = nd;
    return NS_OK;
}
