/* Model specs ("mlp:256,64", "cnn1d:16k5s2,32k3s1", "gru:128") and option
 * names for the neural networks. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/nn.h"

#define NN_MAXWIDTH 1000000L

void ns_nn_config_default(ns_nn_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->arch = NS_NN_MLP;
    cfg->act = NS_NN_RELU;
    cfg->act_slope = 0.01f;
    cfg->bias = 1;
    cfg->loss = NS_NN_CE;
    cfg->opt = NS_NN_ADAM;
    cfg->lr = 1e-3;
    cfg->beta1 = 0.9;
    cfg->beta2 = 0.999;
    cfg->eps = 1e-8;
    cfg->epochs = 100;
    cfg->batch = 32;
    cfg->shuffle = 1;
}

/* A positive integer at *p (advanced), at most NN_MAXWIDTH; -1 if none. */
static long read_int(const char **p)
{
    if (!isdigit((unsigned char)**p))
        return -1;
    errno = 0;
    char *end;
    long v = strtol(*p, &end, 10);
    if (errno || v > NN_MAXWIDTH)
        return -1;
    *p = end;
    return v;
}

/* One conv item "16k5s2p1d1" (channels, then letter-number pairs). */
static ns_status parse_conv_item(const char *item, const char *spec, ns_nn_conv_spec *c)
{
    const char *p = item;
    long ch = read_int(&p);
    c->channels = (int)ch;
    c->kernel = 0;
    c->stride = 1;
    c->padding = 0;
    c->dilation = 1;
    while (*p && *p != ',') {
        char key = *p++;
        long v = read_int(&p);
        if (v < 0)
            return ns_error(NS_ERR_ARG, "invalid conv layer '%.*s': expected a number after '%c' (%s)",
                            (int)strcspn(item, ","), item, key, spec);
        switch (key) {
        case 'k': c->kernel = (int)v; break;
        case 's': c->stride = (int)v; break;
        case 'p': c->padding = (int)v; break;
        case 'd': c->dilation = (int)v; break;
        default:
            return ns_error(NS_ERR_ARG, "invalid conv layer '%.*s': unknown key '%c' (k, s, p, d) (%s)",
                            (int)strcspn(item, ","), item, key, spec);
        }
    }
    if (ch <= 0 || c->kernel <= 0 || c->stride <= 0 || c->dilation <= 0)
        return ns_error(NS_ERR_ARG,
                        "invalid conv layer '%.*s': channels, kernel (k), stride (s) and dilation (d) "
                        "must be positive (%s)",
                        (int)strcspn(item, ","), item, spec);
    return NS_OK;
}

/* The comma list after "kind:". conv_ok: items with letters are conv layers
 * (allowed only before the dense widths). */
static ns_status parse_list(const char *list, const char *spec, int conv_ok, ns_nn_config *cfg)
{
    const char *p = list;
    while (*p) {
        const char *item = p;
        size_t len = strcspn(item, ",");
        int is_conv = 0;
        for (size_t i = 0; i < len; i++)
            if (isalpha((unsigned char)item[i]))
                is_conv = 1;
        if (len == 0)
            return ns_error(NS_ERR_ARG, "empty layer in model spec (%s)", spec);
        if (is_conv) {
            if (!conv_ok || cfg->ndense > 0)
                return ns_error(NS_ERR_ARG, "unexpected conv layer '%.*s' (conv layers come first, "
                                "cnn1d only) (%s)", (int)len, item, spec);
            if (cfg->nconv == NS_NN_MAXLAYERS)
                return ns_error(NS_ERR_ARG, "more than %d conv layers (%s)", NS_NN_MAXLAYERS, spec);
            ns_status st = parse_conv_item(item, spec, &cfg->conv[cfg->nconv]);
            if (st)
                return st;
            cfg->nconv++;
        } else {
            const char *q = item;
            long v = read_int(&q);
            if (v <= 0 || q != item + len)
                return ns_error(NS_ERR_ARG, "invalid layer width '%.*s' (a positive integer) (%s)",
                                (int)len, item, spec);
            if (cfg->ndense == NS_NN_MAXLAYERS)
                return ns_error(NS_ERR_ARG, "more than %d dense layers (%s)", NS_NN_MAXLAYERS, spec);
            cfg->dense[cfg->ndense++] = (int)v;
        }
        p = item + len;
        if (*p == ',') {
            p++;
            if (!*p)
                return ns_error(NS_ERR_ARG, "trailing comma in model spec (%s)", spec);
        }
    }
    return NS_OK;
}

ns_status ns_nn_spec_parse(const char *spec, ns_nn_config *cfg)
{
    static const struct { const char *name; ns_nn_arch arch; } kinds[] = {
        {"mlp", NS_NN_MLP}, {"cnn1d", NS_NN_CNN1D}, {"rnn", NS_NN_RNN},
        {"gru", NS_NN_GRU}, {"lstm", NS_NN_LSTM}};
    if (!spec || !*spec)
        return ns_error(NS_ERR_ARG, "empty model spec");
    size_t klen = strcspn(spec, ":");
    int found = -1;
    for (int i = 0; i < 5; i++)
        if (strlen(kinds[i].name) == klen && !strncmp(spec, kinds[i].name, klen))
            found = i;
    if (found < 0)
        return ns_error(NS_ERR_ARG, "unknown model kind '%.*s' (mlp, cnn1d, rnn, gru, lstm) (%s)",
                        (int)klen, spec, spec);
    ns_nn_config c = *cfg;
    c.arch = kinds[found].arch;
    c.nconv = c.ndense = 0;
    c.hidden = 0;
    const char *list = spec[klen] == ':' ? spec + klen + 1 : spec + klen;
    ns_status st = parse_list(list, spec, c.arch == NS_NN_CNN1D, &c);
    if (st)
        return st;
    if (c.arch == NS_NN_CNN1D && c.nconv == 0)
        return ns_error(NS_ERR_ARG, "cnn1d needs at least one conv layer such as 16k5 (%s)", spec);
    if (c.arch >= NS_NN_RNN) {
        if (c.ndense == 0)
            return ns_error(NS_ERR_ARG, "%s needs a hidden size, e.g. %s:64 (%s)", kinds[found].name,
                            kinds[found].name, spec);
        c.hidden = c.dense[0];
        memmove(c.dense, c.dense + 1, (size_t)(c.ndense - 1) * sizeof c.dense[0]);
        c.ndense--;
    }
    *cfg = c;
    return NS_OK;
}

ns_status ns_nn_act_parse(const char *s, ns_nn_act *act, float *slope)
{
    static const char *names[] = {"linear", "relu", "leaky", "tanh", "sigmoid"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, names[i])) {
            *act = (ns_nn_act)i;
            if (i == NS_NN_LEAKY)
                *slope = 0.01f;
            return NS_OK;
        }
    if (!strncmp(s, "leaky:", 6)) {
        char *end;
        errno = 0;
        double v = strtod(s + 6, &end);
        if (errno || end == s + 6 || *end || !isfinite(v))
            return ns_error(NS_ERR_ARG, "invalid leaky slope (%s)", s);
        *act = NS_NN_LEAKY;
        *slope = (float)v;
        return NS_OK;
    }
    return ns_error(NS_ERR_ARG, "unknown activation (linear, relu, leaky[:slope], tanh, sigmoid) (%s)", s);
}

const char *ns_nn_act_name(ns_nn_act a)
{
    static const char *names[] = {"linear", "relu", "leaky", "tanh", "sigmoid"};
    return (unsigned)a < 5 ? names[a] : "?";
}

ns_status ns_nn_loss_parse(const char *s, ns_nn_loss *out)
{
    if (!strcmp(s, "ce") || !strcmp(s, "cross-entropy"))
        *out = NS_NN_CE;
    else if (!strcmp(s, "bce"))
        *out = NS_NN_BCE;
    else if (!strcmp(s, "mse"))
        *out = NS_NN_MSE;
    else
        return ns_error(NS_ERR_ARG, "unknown loss (ce, bce, mse) (%s)", s);
    return NS_OK;
}

ns_status ns_nn_opt_parse(const char *s, ns_nn_opt *out)
{
    if (!strcmp(s, "sgd"))
        *out = NS_NN_SGD;
    else if (!strcmp(s, "adam"))
        *out = NS_NN_ADAM;
    else if (!strcmp(s, "adamw"))
        *out = NS_NN_ADAMW;
    else
        return ns_error(NS_ERR_ARG, "unknown optimizer (sgd, adam, adamw) (%s)", s);
    return NS_OK;
}

void ns_nn_spec_format(const ns_nn_config *cfg, char *buf, size_t size)
{
    static const char *kinds[] = {"mlp", "cnn1d", "rnn", "gru", "lstm"};
    size_t len = 0;
    int first = 1;
#define APPEND(...)                                                                   \
    do {                                                                              \
        if (len < size)                                                               \
            len += (size_t)snprintf(buf + len, size - len, __VA_ARGS__);              \
    } while (0)
    if (size)
        buf[0] = 0;
    APPEND("%s:", kinds[cfg->arch]);
    if (cfg->arch >= NS_NN_RNN) {
        APPEND("%d", cfg->hidden);
        first = 0;
    }
    for (int i = 0; i < cfg->nconv; i++, first = 0) {
        const ns_nn_conv_spec *c = &cfg->conv[i];
        APPEND("%s%dk%ds%dp%dd%d", first ? "" : ",", c->channels, c->kernel, c->stride,
               c->padding, c->dilation);
    }
    for (int i = 0; i < cfg->ndense; i++, first = 0)
        APPEND("%s%d", first ? "" : ",", cfg->dense[i]);
#undef APPEND
}
