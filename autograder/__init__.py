"""Autograder of the RNN exercise kit (Hands-on Deep Learning, lecture 4)."""
