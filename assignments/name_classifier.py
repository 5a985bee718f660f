# Gerado a partir da solução de referência por `make stubs`: complete cada exercício.
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
    raise NotImplementedError('Dica: crie zeros (len(name), 1, len(ALPHABET)); para cada caractere marque 1 na posição dele (ou na última, se não estiver no ALPHABET).')


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
        raise NotImplementedError('Dica: três camadas: nn.RNNCell(input_size, hidden_size), nn.Linear(hidden_size, output_size) e nn.LogSoftmax(dim=1).')

    def forward(self, x, lengths=None):
        raise NotImplementedError('Dica: rode a célula em todos os passos guardando cada h; o estado de cada nome é o do passo do seu último caractere (lengths - 1), não o do último passo do batch (que leu zeros).')


SEED = 0   # torch.manual_seed(SEED) when training starts makes runs repeatable


def train_name_classifier(names, labels, n_classes, *, time_budget_s, device):
    """Train a classifier of `names` (list of str) into `labels` (ints in [0, n_classes)).

    Stops before `time_budget_s` seconds; returns the trained model (on `device`). Optional:
    a list of each epoch's mean loss in `model.loss_history` is drawn in the feedback.
    """
    raise NotImplementedError('Dica: NameRNN(len(ALPHABET), 128, n_classes), Adam, mini-batches (nomes de tamanhos parecidos juntos poupam passos), F.nll_loss e clip_grad_norm_; pare antes de time_budget_s.')


def predict_nationality(model, names, *, device):
    """The most probable class of each name: a list of int, one per name."""
    raise NotImplementedError('Dica: um batch com names_to_batch, model(x, lengths) sob torch.no_grad() e argmax(dim=1).')
