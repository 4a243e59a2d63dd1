/* ica file layer: output names from BIDS entities, discovery of BOLD runs
 * (raw and fMRIPrep), participant labels.
 * requires: ica nifti_io */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ica/ica.h"
#include "ns_test.h"

static void check_stem(const char *path, const char *stem, const char *label)
{
    char *s, *l;
    ck_assert_int_eq(ns_ica_bids_stem(path, &s, &l), NS_OK);
    ck_assert_str_eq(s, stem);
    ck_assert_str_eq(l, label);
    free(s), free(l);
}

START_TEST(test_stems)
{
    check_stem("/d/sub-01/func/sub-01_task-rest_bold.nii.gz", "sub-01_task-rest", "01");
    check_stem("sub-02_ses-1_task-rest_run-2_bold.nii", "sub-02_ses-1_task-rest_run-2", "02");
    check_stem("/f/sub-x3_task-rest_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz",
               "sub-x3_task-rest_space-MNI152NLin2009cAsym", "x3");
    check_stem("/data/run_1.nii.gz", "sub-run1", "run1");
    char *s, *l;
    ck_assert_int_eq(ns_ica_bids_stem("/data/__.nii", &s, &l), NS_ERR_ARG);
}
END_TEST

static void touch(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
}

static char *mk(const char *root, const char *sub)
{
    static char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, sub);
    ck_assert_int_eq(ns_mkdirs(p), NS_OK);
    return p;
}

START_TEST(test_find_bold)
{
    char root[600];
    snprintf(root, sizeof root, "%s/bids", ns_test_tmpdir());
    touch(mk(root, "sub-01/func"), "sub-01_task-rest_bold.nii.gz");
    touch(mk(root, "sub-01/func"), "sub-01_task-rest_bold.json");
    touch(mk(root, "sub-02/ses-a/func"), "sub-02_ses-a_task-rest_bold.nii.gz");
    touch(mk(root, "sub-02/ses-b/func"), "sub-02_ses-b_task-rest_bold.nii");
    touch(mk(root, "sub-03/anat"), "sub-03_T1w.nii.gz");
    char **f;
    size_t n;
    ck_assert_int_eq(ns_ica_find_bold(root, NULL, 0, &f, &n), NS_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_ptr_nonnull(strstr(f[0], "sub-01_task-rest_bold.nii.gz"));
    ck_assert_ptr_nonnull(strstr(f[2], "ses-b"));
    for (size_t i = 0; i < n; i++)
        free(f[i]);
    free(f);
    const char *labels[] = {"sub-02"};
    ck_assert_int_eq(ns_ica_find_bold(root, labels, 1, &f, &n), NS_OK);
    ck_assert_uint_eq(n, 2);
    for (size_t i = 0; i < n; i++)
        free(f[i]);
    free(f);
    const char *none[] = {"99"};
    ck_assert_int_eq(ns_ica_find_bold(root, none, 1, &f, &n), NS_ERR_DATA);
    /* a label not found is an error even when others are found, naming it
     * (not a study of fewer subjects); sub-0 is no prefix of sub-01 */
    const char *some[] = {"01", "sub-0", "02"};
    ck_assert_int_eq(ns_ica_find_bold(root, some, 3, &f, &n), NS_ERR_DATA);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "participant label 0 not found"));
    /* fMRIPrep outputs win over raw files; the subjects with raw files only
     * are left out (a warning says so), and asking for one is an error */
    touch(mk(root, "sub-01/func"), "sub-01_task-rest_space-MNI_desc-preproc_bold.nii.gz");
    ck_assert_int_eq(ns_ica_find_bold(root, NULL, 0, &f, &n), NS_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_ptr_nonnull(strstr(f[0], "desc-preproc"));
    free(f[0]), free(f);
    const char *both[] = {"01", "02"};
    ck_assert_int_eq(ns_ica_find_bold(root, both, 2, &f, &n), NS_ERR_DATA);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "participant label 02 not found: no "
                                                  "sub-02/[ses-*/]func/*_desc-preproc_bold"));
    ck_assert_int_eq(ns_ica_find_bold("/nonexistent/dir", NULL, 0, &f, &n), NS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(ns_last_error(), "/nonexistent/dir"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ica_bids");
    TCase *tc = tcase_create("names");
    tcase_add_test(tc, test_stems);
    tcase_add_test(tc, test_find_bold);
    suite_add_tcase(s, tc);
    return ns_test_run(s);
}
