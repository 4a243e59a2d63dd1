/* neurospectra models: neural networks with a layer tap (nn.h) and classical
 * classifiers, feature selection, cross-validation and metrics (classify.h).
 * Include this header; the two parts are kept in separate files so that each
 * fits in one read. */
#ifndef NS_MODELS_H
#define NS_MODELS_H

#include "models/nn.h"
#include "models/classify.h"

#endif
