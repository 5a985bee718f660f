"""Nationality from a name, read one character at a time (lecture: Atividade Prática, rnn_classification.py).

A name is a sequence of one-hot characters; an RNN reads it and, from its state after the
**last** character, a linear layer and a log-softmax give the log-probability of each
nationality. Names of different lengths share a batch by zero-padding: x is (T, B, A) with
T the longest name, and `lengths` (B,) says where each name really ends.
"""
import string
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

# Given: ASCII letters, punctuation seen in names, the accented letters of Latin-script
# European languages, and last the "unknown" character that stands for every other one.
ALPHABET = (string.ascii_letters + " .,;'-"
            + "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝßàáâãäåæçèéêëìíîïñòóôõöøùúûüýÿ"
            + "ĄąĆćČčĎďĘęĚěĞğİıŁłŃńŇňŐőŘřŚśŞşŠšŤťŮůŰűŹźŻżŽž"
            + "?")


def name_to_tensor(name):
    """One-hot encoding of `name`: a float32 tensor (len(name), 1, len(ALPHABET)).

    Row t has a single 1 at ALPHABET.index(name[t]); a character outside ALPHABET counts
    as ALPHABET's last character.
    """
    # Dica: crie zeros (len(name), 1, len(ALPHABET)); para cada caractere marque 1 na posição dele (ou na última, se não estiver no ALPHABET).
    ### BEGIN SOLUTION
    unknown = len(ALPHABET) - 1
    indices = [ALPHABET.index(char) if char in ALPHABET else unknown for char in name]
    tensor = torch.zeros(len(name), 1, len(ALPHABET))
    tensor[torch.arange(len(name)), 0, indices] = 1.0
    return tensor
    ### END SOLUTION


def names_to_batch(names):
    """Given: a zero-padded batch x (T, B, len(ALPHABET)) and lengths (B,) int64 of `names`."""
    encoded = [name_to_tensor(name)[:, 0] for name in names]
    return pad_sequence(encoded), torch.tensor([len(name) for name in names], dtype=torch.int64)


class NameRNN(nn.Module):
    """RNNCell -> Linear -> LogSoftmax(dim=1), read at each name's own last character.

    h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), h_0 = 0
    out = log_softmax(h_{L_b - 1} W^T + b) for name b of length L_b
    x: (T, B, input_size) zero-padded, lengths: (B,) or None (all T) -> (B, output_size)
    """

    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        # Dica: três camadas: nn.RNNCell(input_size, hidden_size), nn.Linear(hidden_size, output_size) e nn.LogSoftmax(dim=1).
        ### BEGIN SOLUTION
        self.cell = nn.RNNCell(input_size, hidden_size)
        self.readout = nn.Linear(hidden_size, output_size)
        self.log_softmax = nn.LogSoftmax(dim=1)
        ### END SOLUTION

    def forward(self, x, lengths=None):
        # Dica: rode a célula em todos os passos guardando cada h; o estado de cada nome é o do passo do seu último caractere (lengths - 1), não o do último passo do batch (que leu zeros).
        ### BEGIN SOLUTION
        T, B, _ = x.shape
        if lengths is None:
            lengths = torch.full((B,), T, dtype=torch.int64)
        h, states = None, []
        for t in range(T):
            h = self.cell(x[t], h)
            states.append(h)
        states = torch.stack(states)                                  # (T, B, H)
        last = states[lengths.to(x.device) - 1, torch.arange(B, device=x.device)]
        return self.log_softmax(self.readout(last))
        ### END SOLUTION


SEED = 0   # torch.manual_seed(SEED) when training starts makes runs repeatable


def train_name_classifier(names, labels, n_classes, *, time_budget_s, device):
    """Train a classifier of `names` (list of str) into `labels` (ints in [0, n_classes)).

    Stops before `time_budget_s` seconds; returns the trained model (on `device`). Optional:
    a list of each epoch's mean loss in `model.loss_history` is drawn in the feedback.
    """
    # Dica: NameRNN(len(ALPHABET), 128, n_classes), Adam, mini-batches (nomes de tamanhos parecidos juntos poupam passos), F.nll_loss e clip_grad_norm_; pare antes de time_budget_s.
    ### BEGIN SOLUTION
    start = time.monotonic()
    torch.manual_seed(SEED)
    model = NameRNN(len(ALPHABET), 128, n_classes).to(device)
    model.loss_history = []                                          # each epoch's mean loss
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    encoded = [name_to_tensor(name)[:, 0] for name in names]          # encode each name once
    lengths = torch.tensor([len(name) for name in names])
    targets = torch.as_tensor(labels, dtype=torch.int64)
    batch_size, epochs = 64, 3
    step, steps = 0, epochs * ((len(names) + batch_size - 1) // batch_size)
    for epoch in range(epochs):
        by_length = torch.argsort(lengths + torch.rand(len(names)))   # batches of similar lengths
        batches, losses = list(by_length.split(batch_size)), []
        for index in torch.randperm(len(batches)).tolist():
            done = max(step / steps, (time.monotonic() - start) / (0.9 * time_budget_s))
            if done >= 1:
                return model.eval()
            for group in optimizer.param_groups:    # anneal to 0 by the last step or the deadline
                group["lr"] = 5e-3 * (1 - done)
            batch = batches[index]
            x = pad_sequence([encoded[i] for i in batch]).to(device)
            loss = F.nll_loss(model(x, lengths[batch]), targets[batch].to(device))
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)   # RNN gradients can explode
            optimizer.step()
            losses.append(loss.item())
            step += 1
        model.loss_history.append(sum(losses) / len(losses))
    return model.eval()
    ### END SOLUTION


def predict_nationality(model, names, *, device):
    """The most probable class of each name: a list of int, one per name."""
    # Dica: um batch com names_to_batch, model(x, lengths) sob torch.no_grad() e argmax(dim=1).
    ### BEGIN SOLUTION
    with torch.no_grad():
        x, lengths = names_to_batch(names)
        return model(x.to(device), lengths).argmax(dim=1).tolist()
    ### END SOLUTION
