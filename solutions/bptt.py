"""Backpropagation through time for the vanilla RNN, in numpy (float64).

Lecture 4 (BPTT, gradientes que somem e explodem). The forward pass is the one of
`rnn_basics`: h_t = tanh(x_t W_xh^T + h_{t-1} W_hh^T + b_h), sequences time-major
(T, B, D), weights in PyTorch's layout (out_features, in_features). Every gradient has
the shape of what it is the gradient of. Nothing a function receives is modified in place.
"""
import numpy as np


def rnn_step_backward(dh, x, h_prev, h, W_xh, W_hh):
    """Backward pass of one step h = tanh(x W_xh^T + h_prev W_hh^T + b_h).

    Given dh = dL/dh, return the gradients of L with respect to x, h_prev, W_xh, W_hh, b_h.
    dh: (B, H) = dL/dh, x: (B, D), h_prev: (B, H), h: (B, H) the step's output,
    W_xh: (H, D), W_hh: (H, H)
    -> (dx (B, D), dh_prev (B, H), dW_xh (H, D), dW_hh (H, H), db_h (H,))
    """
    # Dica: a derivada de tanh se escreve com a saída: 1 - h**2; depois, regra da cadeia de x @ W.T.
    ### BEGIN SOLUTION
    da = dh * (1.0 - h ** 2)
    return da @ W_xh, da @ W_hh, da.T @ x, da.T @ h_prev, da.sum(axis=0)
    ### END SOLUTION


def rnn_backward(dhs, xs, h0, hs, W_xh, W_hh):
    """Backward pass through a whole sequence (BPTT).

    dhs[t] is the gradient reaching hs[t] from the readout only; the gradient coming back
    from step t+1 through h_t is added inside: dh_t = dhs[t] + dh_prev(step t+1).
    dhs: (T, B, H), xs: (T, B, D), h0: (B, H) or None (zeros), hs: (T, B, H) the states
    -> (dxs (T, B, D), dh0 (B, H), dW_xh (H, D), dW_hh (H, H), db_h (H,)), the weight
    gradients summed over every step.
    """
    # Dica: percorra t de T-1 até 0 somando a dhs do passo t ao gradiente que volta do passo t+1; acumule dW e db.
    ### BEGIN SOLUTION
    T, B, H = hs.shape
    h0 = np.zeros((B, H)) if h0 is None else h0
    dxs = np.zeros(xs.shape)
    dW_xh, dW_hh, db_h = np.zeros(W_xh.shape), np.zeros(W_hh.shape), np.zeros(H)
    dh_next = np.zeros((B, H))
    for t in reversed(range(T)):
        h_prev = hs[t - 1] if t > 0 else h0
        dxs[t], dh_next, dW_x, dW_h, db = rnn_step_backward(dhs[t] + dh_next, xs[t], h_prev, hs[t], W_xh, W_hh)
        dW_xh += dW_x
        dW_hh += dW_h
        db_h += db
    return dxs, dh_next, dW_xh, dW_hh, db_h
    ### END SOLUTION


def softmax_readout_loss(hs, W_hy, b_y, targets):
    """Softmax readout and many-to-many cross-entropy, with its gradients.

    logits = hs W_hy^T + b_y; loss = sum over t of the batch-mean cross-entropy at step t.
    Finite and warning-free for logits of any size (the cases include logits near 1000).
    hs: (T, B, H), W_hy: (C, H), b_y: (C,), targets: (T, B) class indices
    -> (loss (float), dhs (T, B, H), dW_hy (C, H), db_y (C,))
    """
    # Dica: subtraia o máximo dos logits antes do exp; o gradiente dos logits é (p - one_hot) / B.
    ### BEGIN SOLUTION
    T, B, _ = hs.shape
    logits = hs @ W_hy.T + b_y
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    t_index, b_index = np.meshgrid(np.arange(T), np.arange(B), indexing="ij")
    loss = -log_probs[t_index, b_index, targets].sum() / B
    dlogits = np.exp(log_probs)
    dlogits[t_index, b_index, targets] -= 1.0
    dlogits /= B
    dW_hy = np.einsum("tbc,tbh->ch", dlogits, hs)
    return float(loss), dlogits @ W_hy, dW_hy, dlogits.sum(axis=(0, 1))
    ### END SOLUTION


def loss_and_gradients(xs, targets, h0, params):
    """The whole many-to-many model: RNN forward, softmax readout, loss and BPTT.

    xs: (T, B, D), targets: (T, B), h0: (B, H) or None,
    params: dict with W_xh (H, D), W_hh (H, H), b_h (H,), W_hy (C, H), b_y (C,)
    -> (loss (float), grads: dict with the same keys and shapes as params)
    """
    # Dica: rode o forward guardando todos os h_t, depois softmax_readout_loss e rnn_backward.
    ### BEGIN SOLUTION
    W_xh, W_hh, b_h = params["W_xh"], params["W_hh"], params["b_h"]
    h = np.zeros((xs.shape[1], W_hh.shape[0])) if h0 is None else h0
    hs = []
    for x in xs:
        h = np.tanh(x @ W_xh.T + h @ W_hh.T + b_h)
        hs.append(h)
    hs = np.stack(hs)
    loss, dhs, dW_hy, db_y = softmax_readout_loss(hs, params["W_hy"], params["b_y"], targets)
    _, _, dW_xh, dW_hh, db_h = rnn_backward(dhs, xs, h0, hs, W_xh, W_hh)
    return loss, {"W_xh": dW_xh, "W_hh": dW_hh, "b_h": db_h, "W_hy": dW_hy, "b_y": db_y}
    ### END SOLUTION


def clip_gradients(grads, max_norm):
    """Clip by the global norm, like torch.nn.utils.clip_grad_norm_.

    total = sqrt(sum of the squares of every entry of every array);
    coef = min(1, max_norm / (total + 1e-6)); every array is multiplied by coef.
    grads: dict name -> array, max_norm: float
    -> (clipped: a new dict with the same keys, total (float): the norm before clipping)
    """
    # Dica: uma única norma para todos os arrays juntos; o coeficiente nunca passa de 1.
    ### BEGIN SOLUTION
    total = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))
    coef = min(1.0, max_norm / (total + 1e-6))
    return {name: g * coef for name, g in grads.items()}, total
    ### END SOLUTION


def jacobian_norms(W_hh, hs):
    """How much of the gradient at the last step reaches each earlier step.

    J_j = dh_j/dh_{j-1} = diag(1 - h_j^2) W_hh, so dh_{T-1}/dh_k = J_{T-1} ... J_{k+1}.
    W_hh: (H, H), hs: (T, H) the states of one sequence
    -> norms (T,): norms[k] = spectral norm (largest singular value) of dh_{T-1}/dh_k;
    norms[T-1] = 1 (the identity).
    """
    # Dica: comece da identidade e, de k = T-2 até 0, multiplique à direita por diag(1 - h_{k+1}^2) W_hh.
    ### BEGIN SOLUTION
    T, H = hs.shape
    norms = np.ones(T)
    product = np.eye(H)
    for k in range(T - 2, -1, -1):
        product = product @ ((1.0 - hs[k + 1] ** 2)[:, None] * W_hh)
        norms[k] = np.linalg.norm(product, ord=2)
    return norms
    ### END SOLUTION
