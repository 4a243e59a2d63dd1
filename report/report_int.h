/* Private pieces of the study report shared between its files. */
#ifndef NS_REPORT_INT_H
#define NS_REPORT_INT_H

#include "nifti_io/nifti_io.h"
#include "report/report.h"

/* A grid of slice mosaics, one per volume of v (components), captioned with
 * "ica<K>c<NN>" and the stability index when stab has it. */
ns_status ns_report_component_grid(ns_html *h, const ns_volume *v, const float *mask, const ns_tsv *stab,
                                   int k);
/* Bars of the stability_index column. */
void ns_report_stability_bars(ns_html *h, const ns_tsv *stab, int k);
/* A labelled numeric table (first column = row labels) as a heatmap. */
void ns_report_table_heatmap(ns_html *h, const ns_tsv *t, const char *title);
/* FNC: mean matrix over participants and group differences. */
ns_status ns_report_fnc_section(ns_html *h, const char *outdir, const ns_report_opts *o);
/* Classification, spectra and bandwidth of every OUT/group/train-* folder. */
ns_status ns_report_train_sections(ns_html *h, const char *outdir);
/* Gradient spectra trajectories by group per layer, and rank against bound,
 * from DIR/spectra.tsv (columns fold epoch step layer group quantity index value). */
void ns_report_spectra(ns_html *h, const char *dir);
/* OUT/sub-<l>.html for every OUT/sub-<l>/ folder. */
ns_status ns_report_subject_pages(const char *outdir, int *pages);
/* Component id "ica<K>c<NN>" (NN zero-padded to the width of K). */
void ns_report_component_id(int k, int index1, char *buf, size_t size);

#endif
