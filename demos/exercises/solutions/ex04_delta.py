"""Exercise 4 (lecture 001): the delta recursion for one layer of a tanh network.

Notation of lecture 001: s(l) = W(l) o(l-1) + b(l), o(l) = tanh(s(l)), delta(l) = d loss / d s(l).
W(l+1) has one row per neuron c of layer l+1: W_next[c][b] = w_cb(l+1). The recursion is

    delta_b(l) = ( sum_c delta_c(l+1) w_cb(l+1) ) * theta'(s_b(l)),   theta' = 1 - o_b(l)^2 for tanh

i.e. upstream d loss / d o_b(l) times the local derivative ∂o_b(l)/∂s_b(l).

Check:  python -m demos.exercises check 4 path/to/this/file.py
"""


def delta(W_next: list[list[float]], delta_next: list[float], o: list[float]) -> list[float]:
    """delta(l) (a list, one number per neuron of layer l) from W(l+1), delta(l+1) and o(l)."""
    # BEGIN SOLUTION
    out = []
    for b, o_b in enumerate(o):
        upstream = sum(delta_next[c] * W_next[c][b] for c in range(len(delta_next)))
        out.append(upstream * (1.0 - o_b * o_b))
    return out
    # END SOLUTION
