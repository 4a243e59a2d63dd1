/* Private to dist/edad*.c: the model as edAD's recomputation sees it. */
#ifndef NS_DIST_EDAD_INT_H
#define NS_DIST_EDAD_INT_H

#include "dist/dist_int.h"

#define EDAD_MAXL (2 * NS_NN_MAXLAYERS + 3)

typedef struct {
    const ns_nn_config *cfg;
    const float *theta;
    size_t nl, first_fc, in_size;   /* first_fc: index of fc0 (0 for an MLP) */
    ns_nn_layer li[EDAD_MAXL];
    size_t w[EDAD_MAXL], b[EDAD_MAXL]; /* parameter offsets; b DIST_NONE without bias */
    float p, scale;                 /* dropout and 1/(1-p) */
} edad_model;

void edad_act_forward(const edad_model *e, const float *z, float *y, size_t n);
void edad_act_backward(const edad_model *e, const float *z, const float *y, float *d, size_t n);
void edad_linear(const edad_model *e, size_t li, const float *X, size_t rows, float *Z);
void edad_back_linear(const edad_model *e, size_t li, const float *dZ, size_t rows, float *dX);
/* dfeat *= fc0's dropout mask, inferred from its input a and the feature. */
void edad_feat_mask(const edad_model *e, float *dfeat, const float *a, const float *feat,
                    size_t count);
/* Trunks: from dfeat (N x features, before fc0's dropout mask) to the
 * deltas of the conv / recurrent layers. */
ns_status edad_conv_trunk(const edad_model *e, const ns_matrix *A, ns_matrix *D, size_t N,
                          float *dfeat);
ns_status edad_rnn_trunk(const edad_model *e, const ns_matrix *A, ns_matrix *D, size_t N,
                         float *dfeat);

#endif
