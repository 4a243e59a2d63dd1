/* NPZ checkpoints with PyTorch state_dict() names and shapes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/nn_int.h"

ns_status ns_nn_save_npz(const ns_nn *m, ns_npz *z)
{
    for (size_t i = 0; i < m->nparams; i++) {
        const nn_ptensor *p = &m->params[i];
        ns_array *a = ns_array_from_f32(m->theta + p->offset, p->ndim, p->shape);
        if (!a)
            return NS_ERR_NOMEM;
        ns_status st = ns_npz_add(z, p->name, a);
        if (st)
            return st;
    }
    return NS_OK;
}

ns_status ns_nn_save(const ns_nn *m, const char *path)
{
    ns_npz *z = ns_npz_create();
    if (!z)
        return NS_ERR_NOMEM;
    ns_status st = ns_nn_save_npz(m, z);
    if (!st)
        st = ns_npz_write(z, path);
    ns_npz_free(z);
    return st;
}

static const nn_ptensor *find_param(const ns_nn *m, const char *name)
{
    for (size_t i = 0; i < m->nparams; i++)
        if (!strcmp(m->params[i].name, name))
            return &m->params[i];
    return NULL;
}

static ns_status load_one(ns_nn *m, const nn_ptensor *p, const ns_array *a, const char *what)
{
    int same = a->ndim == p->ndim;
    for (int d = 0; same && d < p->ndim; d++)
        same = a->shape[d] == p->shape[d];
    if (!same) {
        char want[64], got[64];
        size_t lw = 0, lg = 0;
        for (int d = 0; d < p->ndim; d++)
            lw += (size_t)snprintf(want + lw, sizeof want - lw, "%s%zu", d ? ", " : "", p->shape[d]);
        for (int d = 0; d < a->ndim && lg < sizeof got - 24; d++)
            lg += (size_t)snprintf(got + lg, sizeof got - lg, "%s%zu", d ? ", " : "", a->shape[d]);
        if (!a->ndim)
            got[0] = 0;
        return ns_error(NS_ERR_DATA, "%s has shape [%s], the model expects [%s] (%s)", p->name, got,
                        want, what);
    }
    float *f;
    ns_status st = ns_array_to_f32(a, &f);
    if (st)
        return ns_error_prefix(st, "%s", p->name);
    /* A NaN weight can vanish behind a ReLU and give finite, wrong results. */
    for (size_t i = 0; i < p->count; i++)
        if (!isfinite(f[i])) {
            free(f);
            return ns_error(NS_ERR_DATA, "%s has a NaN or Inf value at element %zu (%s)", p->name, i, what);
        }
    memcpy(m->theta + p->offset, f, p->count * sizeof(float));
    free(f);
    return NS_OK;
}

ns_status ns_nn_load_npz(ns_nn *m, const ns_npz *z, const char *what)
{
    for (size_t i = 0; i < ns_npz_count(z); i++)
        if (!find_param(m, ns_npz_name(z, i)))
            return ns_error(NS_ERR_DATA, "unexpected parameter '%s' for this model (%s)",
                            ns_npz_name(z, i), what);
    for (size_t i = 0; i < m->nparams; i++) {
        const ns_array *a = ns_npz_get(z, m->params[i].name);
        if (!a)
            return ns_error(NS_ERR_DATA, "missing parameter '%s' (%s)", m->params[i].name, what);
        ns_status st = load_one(m, &m->params[i], a, what);
        if (st)
            return st;
    }
    return NS_OK;
}

ns_status ns_nn_load(ns_nn *m, const char *path)
{
    ns_npz *z;
    ns_status st = ns_npz_read(path, &z);
    if (st)
        return st;
    st = ns_nn_load_npz(m, z, path);
    ns_npz_free(z);
    return st;
}
