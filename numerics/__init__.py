"""Floating-point side of cbn-toolkit: Fourier algebra, closed forms, programs, engines."""
