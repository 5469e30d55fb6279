"""Positional encoding (§3.5): the formula, its sinusoids, the whole table, the similarity between
positions, and what it adds to the current sentence's token embeddings, all at the loaded
checkpoint's d_model and max_len. The sentence lives in the URL."""

import streamlit as st

from figures import (
    embedding_parts_figure,
    positional_curves,
    positional_heatmap,
    similarity_by_distance,
    similarity_heatmap,
)
from figures.positional import wavelength
from transformer.analysis import embedding_parts, positional_similarity
from transformer.embeddings import sinusoidal_table
from webapp.state import checkpoints, present, url

FORMULA = (
    r"PE_{(pos,\,2i)} = \sin\left(\frac{pos}{10000^{2i/d_{model}}}\right) \qquad "
    r"PE_{(pos,\,2i+1)} = \cos\left(\frac{pos}{10000^{2i/d_{model}}}\right)"
)


def default_dimensions(d_model: int) -> list[int]:
    """Three sine/cosine pairs, fast to slow: i = 0, d_model/32 and d_model/8, whose periods (2π,
    about 11 and 63 positions) do not depend on d_model."""
    return sorted({2 * i + offset for i in (0, d_model // 32, d_model // 8) for offset in (0, 1)})


def sinusoids(table, d_model: int) -> None:
    st.header("Sinusoids")
    url.keep_valid_choices("pe_dims", range(d_model), default_dimensions(d_model))
    dimensions = st.multiselect(
        "Dimensions",
        range(d_model),
        key=url.kept("pe_dims"),
        format_func=lambda d: f"{d} ({'cos' if d % 2 else 'sin'})",
        help="Dimension 2i is a sine, 2i+1 the cosine of the same frequency; the higher i, the slower.",
    )
    if dimensions:
        present.plotly_chart(positional_curves(table, dimensions), key="pe_curves", filename="positional-curves")
    else:
        st.info("Pick at least one dimension.")
    st.subheader("Every position × dimension")
    st.caption("Each column is one sinusoid: fast on the left, slower and slower to the right.")
    present.plotly_chart(positional_heatmap(table), key="pe_table", filename="positional-encoding-table")


def similarity(max_len: int, d_model: int) -> None:
    st.header("Similarity between positions")
    st.markdown(
        "The dot product PE(i)·PE(j) is a sum of cos(ω·(j − i)) over the frequencies ω: it depends only "
        "on the distance j − i, so a linear map of the encodings can express *relative* positions (§3.5)."
    )
    similarities = positional_similarity(max_len, d_model)
    positions = range(1, max_len)
    url.keep_valid("pe_position", list(positions), max_len // 2)  # kept from a model with more positions
    position = st.slider("Compare from position", positions[0], positions[-1], key=url.kept("pe_position"))
    matrix_column, distance_column = st.columns(2)
    with matrix_column:
        present.plotly_chart(similarity_heatmap(similarities), key="pe_similarity", filename="positional-similarity")
    with distance_column:
        present.plotly_chart(
            similarity_by_distance(similarities, [0, position]),
            key="pe_distance",
            filename=f"positional-similarity-from-{position}",
        )
        st.caption("The two curves coincide where both exist: only the offset matters.")


def sentence_parts(checkpoint: checkpoints.Checkpoint) -> str:
    st.header("Token embedding + positional encoding")
    text = url.sentence_input(checkpoint)
    if not text.strip():
        st.info("Type a sentence to see what its encoder input is made of.")
        return text
    translator = checkpoint.translator
    ids, truncated = translator.encode_source(text)
    if truncated:
        st.warning(f"Only the first {translator.max_source_tokens} tokens are shown: this model's limit.")
    embeddings, positional = (part.cpu() for part in embedding_parts(translator.model, ids))  # on the model's device
    present.plotly_chart(
        embedding_parts_figure(embeddings, positional, translator.tokenizer.tokens(ids)),
        key="pe_sentence",
        filename="embedding-plus-positional",
    )
    st.caption(
        f"Mean vector length: token embeddings {embeddings.norm(dim=-1).mean():.1f}, positional encodings "
        f"{positional.norm(dim=-1).mean():.1f}. The embeddings are multiplied by √d_model = "
        f"{translator.config.d_model**0.5:.1f} (§3.4), which keeps the two on a similar scale."
    )
    return text


def main() -> None:
    checkpoint = checkpoints.checkpoint_for_page("Positional encoding")
    if checkpoint is None:
        return
    config = checkpoint.translator.config
    st.markdown(
        "Attention treats its input as a set: nothing in Eq. 1 knows which token comes first. So each "
        "position adds a fixed vector of sines and cosines to its token's embedding (§3.5):"
    )
    st.latex(FORMULA)
    st.caption(
        f"This checkpoint: d_model = {config.d_model}, positions 0 … {config.max_len - 1}; periods from 2π "
        f"(dimensions 0, 1) to {wavelength(config.d_model - 1, config.d_model):,.0f} positions "
        f"(dimensions {config.d_model - 2}, {config.d_model - 1})."
    )
    table = sinusoidal_table(config.max_len, config.d_model)
    sinusoids(table, config.d_model)
    similarity(config.max_len, config.d_model)
    text = sentence_parts(checkpoint)
    url.set_url(text=text)


main()
