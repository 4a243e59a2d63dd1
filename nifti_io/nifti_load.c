/* ns_volume_load: resolve the files, validate the header, read the data. */
#include <stdlib.h>
#include <string.h>

#include "nifti_int.h"

ns_status ns_nii_open(const char *path, ns_nii_paths *p, ns_nii_hdr *h, ns_volume **out)
{
    *out = NULL;
    if (!path || !path[0])
        return ns_error(NS_ERR_ARG, "empty file name");
    ns_status s = ns_nii_paths_resolve(path, p);
    if (s)
        return s;
    ns_volume *v = calloc(1, sizeof *v);
    if (!v) {
        ns_nii_paths_free(p);
        return ns_error(NS_ERR_NOMEM, "out of memory (%s)", path);
    }
    if (!(s = ns_nii_header_read(p, h)) && !(s = ns_nii_header_to_volume(h, path, v)) &&
        !(v->path = strdup(path)))
        s = ns_error(NS_ERR_NOMEM, "out of memory (%s)", path);
    if (s) {
        ns_nii_paths_free(p);
        ns_volume_free(v);
        return s;
    }
    *out = v;
    return NS_OK;
}

void ns_nii_finish(ns_volume *v, const ns_nii_hdr *h, const ns_load_opts *o, const char *path)
{
    if (o && o->first_volume_only) {
        v->nvol = 1;
        for (int i = 3; i < 7; i++)
            v->geom.dim[i] = 1;
        v->geom.ndim = 3;
    }
    v->nvol_file = h->nvol;
    if (!o || !o->no_sidecar)
        ns_nii_apply_sidecar(v, path, h->dim[0] >= 4);
    /* A volume TR above 100 s is almost always milliseconds labelled as
     * seconds (nibabel's example4d.nii.gz says 2000 s). Not corrected: the
     * header is what it is, but filters built on it would be nonsense. */
    if (v->geom.tr_source == 1 && v->geom.tr > 100 && h->dim[4] > 1)
        ns_warn("TR of %g s from the header is implausible (milliseconds labelled as seconds?); "
                "a BIDS sidecar's RepetitionTime would override it (%s)", v->geom.tr, path);
}

static ns_status load(const char *path, const ns_load_opts *opts, int with_data, ns_volume **out)
{
    ns_nii_paths p;
    ns_nii_hdr h;
    ns_volume *v = NULL;
    ns_status s = ns_nii_open(path, &p, &h, &v);
    *out = NULL;
    if (s)
        return s;
    if (with_data) {
        size_t nvol = opts && opts->first_volume_only ? 1 : h.nvol;
        s = ns_nii_read_data(&p, &h, h.nvox * nvol, opts && opts->zlib_only, &v->data);
    }
    ns_nii_paths_free(&p);
    if (s) {
        ns_volume_free(v);
        return s;
    }
    ns_nii_finish(v, &h, with_data ? opts : NULL, path);
    *out = v;
    return NS_OK;
}

ns_status ns_volume_load(const char *path, const ns_load_opts *opts, ns_volume **out)
{
    return load(path, opts, 1, out);
}

ns_status ns_volume_load_header(const char *path, ns_volume **out)
{
    return load(path, NULL, 0, out);
}
