# Gerado a partir da solução de referência por `make stubs`: complete cada exercício.
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
    raise NotImplementedError('Dica: a derivada de tanh se escreve com a saída: 1 - h**2; depois, regra da cadeia de x @ W.T.')


def rnn_backward(dhs, xs, h0, hs, W_xh, W_hh):
    """Backward pass through a whole sequence (BPTT).

    dhs[t] is the gradient reaching hs[t] from the readout only; the gradient coming back
    from step t+1 through h_t is added inside: dh_t = dhs[t] + dh_prev(step t+1).
    dhs: (T, B, H), xs: (T, B, D), h0: (B, H) or None (zeros), hs: (T, B, H) the states
    -> (dxs (T, B, D), dh0 (B, H), dW_xh (H, D), dW_hh (H, H), db_h (H,)), the weight
    gradients summed over every step.
    """
    raise NotImplementedError('Dica: percorra t de T-1 até 0 somando a dhs do passo t ao gradiente que volta do passo t+1; acumule dW e db.')


def softmax_readout_loss(hs, W_hy, b_y, targets):
    """Softmax readout and many-to-many cross-entropy, with its gradients.

    logits = hs W_hy^T + b_y; loss = sum over t of the batch-mean cross-entropy at step t.
    Finite and warning-free for logits of any size (the cases include logits near 1000).
    hs: (T, B, H), W_hy: (C, H), b_y: (C,), targets: (T, B) class indices
    -> (loss (float), dhs (T, B, H), dW_hy (C, H), db_y (C,))
    """
    raise NotImplementedError('Dica: subtraia o máximo dos logits antes do exp; o gradiente dos logits é (p - one_hot) / B.')


def loss_and_gradients(xs, targets, h0, params):
    """The whole many-to-many model: RNN forward, softmax readout, loss and BPTT.

    xs: (T, B, D), targets: (T, B), h0: (B, H) or None,
    params: dict with W_xh (H, D), W_hh (H, H), b_h (H,), W_hy (C, H), b_y (C,)
    -> (loss (float), grads: dict with the same keys and shapes as params)
    """
    raise NotImplementedError('Dica: rode o forward guardando todos os h_t, depois softmax_readout_loss e rnn_backward.')


def clip_gradients(grads, max_norm):
    """Clip by the global norm, like torch.nn.utils.clip_grad_norm_.

    total = sqrt(sum of the squares of every entry of every array);
    coef = min(1, max_norm / (total + 1e-6)); every array is multiplied by coef.
    grads: dict name -> array, max_norm: float
    -> (clipped: a new dict with the same keys, total (float): the norm before clipping)
    """
    raise NotImplementedError('Dica: uma única norma para todos os arrays juntos; o coeficiente nunca passa de 1.')


def jacobian_norms(W_hh, hs):
    """How much of the gradient at the last step reaches each earlier step.

    J_j = dh_j/dh_{j-1} = diag(1 - h_j^2) W_hh, so dh_{T-1}/dh_k = J_{T-1} ... J_{k+1}.
    W_hh: (H, H), hs: (T, H) the states of one sequence
    -> norms (T,): norms[k] = spectral norm (largest singular value) of dh_{T-1}/dh_k;
    norms[T-1] = 1 (the identity).
    """
    raise NotImplementedError('Dica: comece da identidade e, de k = T-2 até 0, multiplique à direita por diag(1 - h_{k+1}^2) W_hh.')
