"""Writes conv-reference.json: LoHa and LoKr on a torch-style Conv2d, computed with numpy from
PEFT 0.11.1's formulas (NCHW, OIHW, cross-correlation as torch.nn.functional.conv2d), so the
tfjs layers' Conv2D layouts and the effective (Tucker) forms are checked independently.
Run: python3 make-conv-reference.py (numpy only)."""
import json
import numpy as np

rng = np.random.default_rng(1234)


def conv2d(x, w, stride, padding):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (wd + 2 * padding - kw) // stride + 1
    y = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            y[:, :, i, j] = np.einsum('nckl,ockl->no', patch, w)
    return y


def factorization(dimension, factor=-1):
    if factor > 0 and dimension % factor == 0:
        return factor, dimension // factor
    if factor == -1:
        factor = dimension
    m, n = 1, dimension
    length = m + n
    while m < n:
        new_m = m + 1
        while dimension % new_m != 0:
            new_m += 1
        new_n = dimension // new_m
        if new_m + new_n > length or new_m > factor:
            break
        m, n = new_m, new_n
    if m > n:
        n, m = m, n
    return m, n


def r(*shape):
    return rng.standard_normal(shape) * 0.5


x = r(2, 3, 7, 7)
cases = []
for stride, padding, tf_padding in [(1, 0, 'valid'), (2, 1, 'same')]:
    weight = r(4, 3, 3, 3)
    bias = r(4)
    base = conv2d(x, weight, stride, padding) + bias[None, :, None, None]
    # LoHa, plain form: factors on the weight viewed as [out, in*kh*kw].
    rank, alpha = 2, 3.0
    plain = {'hada_w1_a': r(4, rank), 'hada_w1_b': r(rank, 27), 'hada_w2_a': r(4, rank), 'hada_w2_b': r(rank, 27)}
    delta = ((plain['hada_w1_a'] @ plain['hada_w1_b']) * (plain['hada_w2_a'] @ plain['hada_w2_b']) * alpha / rank).reshape(4, 3, 3, 3)
    cases.append({'method': 'LOHA', 'config': {'r': rank, 'alpha': alpha}, 'stride': stride, 'padding': tf_padding, 'weight': weight, 'bias': bias, 'factors': plain, 'expected': base + conv2d(x, delta, stride, padding)})
    # LoHa, effective form.
    eff = {'hada_t1': r(rank, rank, 3, 3), 'hada_w1_a': r(rank, 4), 'hada_w1_b': r(rank, 3), 'hada_t2': r(rank, rank, 3, 3), 'hada_w2_a': r(rank, 4), 'hada_w2_b': r(rank, 3)}
    w1 = np.einsum('ijkl,jr,ip->prkl', eff['hada_t1'], eff['hada_w1_b'], eff['hada_w1_a'])
    w2 = np.einsum('ijkl,jr,ip->prkl', eff['hada_t2'], eff['hada_w2_b'], eff['hada_w2_a'])
    delta = w1 * w2 * alpha / rank
    cases.append({'method': 'LOHA', 'config': {'r': rank, 'alpha': alpha, 'use_effective_conv2d': True}, 'stride': stride, 'padding': tf_padding, 'weight': weight, 'bias': bias, 'factors': eff, 'expected': base + conv2d(x, delta, stride, padding)})
    # LoKr: out 4 = 2*2, in 3 = 1*3; r=1 < max(2, 3)/2 so w2 is factored; effective form uses lokr_t2.
    a, b = factorization(4)
    c, d = factorization(3)
    for effective in (False, True):
        factors = {'lokr_w1': r(a, c)}
        if effective:
            factors.update({'lokr_t2': r(1, 1, 3, 3), 'lokr_w2_a': r(1, b), 'lokr_w2_b': r(1, d)})
            w2 = np.einsum('ijkl,ip,jr->prkl', factors['lokr_t2'], factors['lokr_w2_a'], factors['lokr_w2_b'])
        else:
            factors.update({'lokr_w2_a': r(b, 1), 'lokr_w2_b': r(1, d * 9)})
            w2 = factors['lokr_w2_a'] @ factors['lokr_w2_b']
        w1 = factors['lokr_w1']
        if w2.ndim == 4:
            w1 = w1[:, :, None, None]
        delta = np.kron(w1, w2).reshape(4, 3, 3, 3)
        config = {'r': 1, 'alpha': 7.0, 'use_effective_conv2d': effective}
        cases.append({'method': 'LOKR', 'config': config, 'stride': stride, 'padding': tf_padding, 'weight': weight, 'bias': bias, 'factors': factors, 'expected': base + conv2d(x, delta, stride, padding)})


def jsonable(value):
    if isinstance(value, np.ndarray):
        return {'shape': list(value.shape), 'data': [float(v) for v in value.ravel()]}
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


with open('conv-reference.json', 'w') as handle:
    json.dump({'x': jsonable(x), 'cases': [jsonable(case) for case in cases]}, handle)
