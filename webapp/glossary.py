"""The glossary of the Glossary page (webapp/pages/glossary.py): each term of the paper in a sentence
or two, and the page of the app that shows it, with the view (URL parameters) that does. No
Streamlit: a test checks that every entry's page is in the registry."""

from dataclasses import dataclass, field
from urllib.parse import urlencode

EXAMPLE = "Two dogs are playing in the snow."


@dataclass(frozen=True)
class Entry:
    term: str
    meaning: str  # Markdown
    page: str  # the registry's URL path of the page that shows it
    params: dict[str, str] = field(default_factory=dict)
    shows: str = ""  # what to look at there

    @property
    def link(self) -> str:
        """The relative link, /page?params."""
        return f"/{self.page}" + (f"?{urlencode(self.params)}" if self.params else "")


def _view(kind: str, layer: int, head: int | str) -> dict[str, str]:
    return {"text": EXAMPLE, "kind": kind, "layer": str(layer), "head": str(head)}


ENTRIES = (
    Entry(
        "Query, key, value",
        "Three linear maps of each token's vector: the **query** asks, the **keys** "
        "answer how well they match it, the **values** are what is mixed with the resulting weights.",
        "inside",
        {"text": EXAMPLE, "kind": "encoder", "layer": "1", "head": "1"},
        "step 2, Q, K and V of one head",
    ),
    Entry(
        "Attention (scaled dot-product)",
        "softmax(QKᵀ/√d_k)·V: every query scores every key, the scores "
        "become weights that sum to 1, and the values are averaged with them (Eq. 1).",
        "masks",
        {"batch": EXAMPLE, "kind": "encoder", "layer": "1", "head": "1"},
        "One head, step by step",
    ),
    Entry(
        "Softmax",
        "Turns a row of scores into positive weights that sum to 1: exp(s_i) / Σ exp(s_j). "
        "A masked score of −∞ gets weight exactly 0.",
        "masks",
        {"batch": EXAMPLE},
        "the last map of One head, step by step",
    ),
    Entry(
        "Head",
        "One attention of its own with smaller projections (d_k = d_model / h); a layer runs h heads side "
        "by side and concatenates their outputs (§3.2.2).",
        "translate",
        {**_view("encoder", 3, 3), "heads": "3,4"},
        "the head view: two heads of one layer",
    ),
    Entry(
        "Self-attention and encoder–decoder attention",
        "Self-attention: queries, keys and values from the same "
        "sequence. Encoder–decoder (cross) attention: the decoder's queries, the encoder's keys and values.",
        "translate",
        _view("cross", 3, "avg"),
        "the map: rows are the German words written, columns the English ones",
    ),
    Entry(
        "Mask",
        "Hides keys from a query: the **padding mask** the `<pad>` tokens, the **look-ahead mask** the "
        "words the decoder has not written yet (§3.2.3).",
        "masks",
        {"batch": f"{EXAMPLE}\nA man sleeps.", "sentence": "2"},
        "the three masks",
    ),
    Entry(
        "Embedding",
        "The learned vector of d_model numbers each token id is turned into (§3.4), scaled by √d_model.",
        "positional-encoding",
        {"text": EXAMPLE},
        "Token embedding + positional encoding",
    ),
    Entry(
        "Positional encoding",
        "Sines and cosines of the position, added to each embedding so that attention "
        "knows word order (§3.5): dimension 2i repeats every 2π·10000^(2i/d_model) positions.",
        "positional-encoding",
        {"text": EXAMPLE},
        "the sinusoids",
    ),
    Entry(
        "Residual connection",
        "Each sub-layer's output is added to its input, x + Sublayer(x): the input "
        "flows through the stack unchanged unless a sub-layer adds to it.",
        "inside",
        {"text": EXAMPLE},
        "step 6, the residual",
    ),
    Entry(
        "LayerNorm",
        "Normalises each token's vector to mean 0 and variance 1, then scales and shifts it with "
        "learned weights: LayerNorm(x + Sublayer(x)) in the paper (post-norm).",
        "inside",
        {"text": EXAMPLE},
        "step 6 and step 7",
    ),
    Entry(
        "Feed-forward network",
        "Two linear maps with a ReLU between, applied to every position alike; d_ff is 4 × d_model (§3.3).",
        "inside",
        {"text": EXAMPLE},
        "step 7, the feed-forward network",
    ),
    Entry(
        "Logits",
        "The decoder's last vector multiplied by the output embedding: one score per word of the "
        "vocabulary; a softmax turns them into next-token probabilities.",
        "decoding",
        {"text": EXAMPLE, "step": "2"},
        "the next-token bars",
    ),
    Entry(
        "Greedy decoding and beam search",
        "Greedy takes the most probable token at every step; a **beam** "
        "search keeps the best few partial translations and returns the best finished one.",
        "decoding",
        {"text": EXAMPLE, "step": "3"},
        "the beam tree",
    ),
    Entry(
        "Label smoothing",
        "Training targets that put 1 − ε on the right token and spread ε over the whole "
        "vocabulary (ε = 0.1, §5.4): a less confident model, a better BLEU.",
        "train",
        {"task": "reverse"},
        "the smoothed target beside the learning rate",
    ),
    Entry(
        "Warm-up",
        "The learning rate rises linearly for the first warm-up steps, then decays with 1/√step (§5.3).",
        "train",
        {"task": "reverse"},
        "the learning-rate curve",
    ),
    Entry(
        "Entropy of a head",
        "How spread out a head's weights are: 0 nats when each query looks at one key, "
        "more when it spreads; low means focused.",
        "analysis",
        {"text": EXAMPLE, "tab": "statistics"},
        "the entropy grid (pale = focused)",
    ),
    Entry(
        "Ablation",
        "Switching a head off (zeroing its output) and translating again: how much the head mattered.",
        "analysis",
        {
            "text": "A little girl in a pink dress is climbing the stairs.",
            "tab": "ablation",
            "off": "cross-3-1,cross-3-2,cross-3-3,cross-3-4",
        },
        "before and after",
    ),
    Entry(
        "BLEU",
        "The overlap of a translation's word sequences with a reference translation, 0 to 100: the paper's score.",
        "model",
        {"ckpt": "en-de"},
        "Scores",
    ),
)
