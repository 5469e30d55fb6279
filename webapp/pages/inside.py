"""Inside a layer: one layer of the loaded model computed step by step on the shared sentence, with
its real numbers: the input X, Q/K/V of one head, Eq. 1 (QKᵀ, ÷√d_k, mask, softmax), softmax·V,
the heads concatenated and mixed by W^O, the residual and LayerNorm, the feed-forward network and
the layer's output; and BertViz's neuron view of one query. The tensors come from
transformer.inside.inside_layer; this page only lays them out. The kind, layer, head and query live
in the URL: /inside?text=…&kind=cross&layer=2&head=3&query=4 (numbers from 1)."""

import streamlit as st
import torch

from figures import (
    Panel,
    TokenAxes,
    attention_step_figures,
    head_label,
    label,
    markdown_token,
    matrices_figure,
    mixture_figure,
    neuron_key_target,
    neuron_view,
    product_bars,
    row_convention,
    translation_axes,
)
from transformer.inside import LayerTrace, inside_layer
from webapp.state import checkpoints, present, results, url
from webapp.widgets import gallery, pickers, sidebar, source

INPUT_TOP = 600  # pixels above the page's first matrix, the layer's input, on a 1920 x 1080 projector (measured: 589)
DEFAULT_KIND = "encoder"  # the simplest layer: one attention sub-layer, then the feed-forward network
SUBLAYER = {
    False: r"\mathrm{LayerNorm}(x + \mathrm{Sublayer}(x))\quad\text{(post-norm, as in the paper, §3.1)}",
    True: r"x + \mathrm{Sublayer}(\mathrm{LayerNorm}(x))\quad\text{(pre-norm)}",
}


def query_choice(axes: TokenAxes, query: int) -> str:
    """A query as the picker lists it, as the sidebar's "Show ▁" shows tokens: "2: Hunde (reads Zwei)"."""
    (name,) = sidebar.shown_tokens([axes.queries[query]])
    if axes.reads is None:
        return f"{query + 1}: {name}"
    (read,) = sidebar.shown_tokens([axes.reads[query]])
    return f"{query + 1}: {name} (reads {read})"


def pick(config, translation) -> tuple[TokenAxes, int, int, int]:
    """Kind, layer, head and query pickers; returns the kind's token axes (figures.rows: decoder rows
    named by the token each position writes), the layer, head and query (0-based)."""
    # On a projector the kind stands beside the layer, head and query: the first matrix ends above the fold.
    kind_column, layer_column, head_column, query_column = (
        st.columns([5, 2, 2, 2]) if present.presenting() else (st.container(), *st.columns(4)[:3])
    )
    kind = pickers.kind_picker("inside_kind", DEFAULT_KIND, kind_column)
    axes = translation_axes(kind, translation)
    queries = axes.queries
    url.restore_param(
        "query",
        "inside_query",
        lambda query: url.parse_number(query, len(queries)),
        f"The link's query is not between 1 and {len(queries)}; showing query 1.",
    )
    layer = pickers.layer_picker("Layer", config.layers(kind), "inside_layer", 0, layer_column)
    head = pickers.head_picker(config.n_heads, "inside_head", average=False, container=head_column)
    url.keep_valid("inside_query", list(range(len(queries))), 0)
    choices = [query_choice(axes, i) for i in range(len(queries))]  # now: "Show ▁" as this run sees it
    query = query_column.selectbox(
        "Query token" if axes.reads is None else "Query: the token it writes",
        range(len(queries)),
        key=url.kept("inside_query"),
        format_func=choices.__getitem__,
    )
    return axes, layer, head, query


def chart(figure, key: str, name: str, on_select=None, columns: int = 1, top: int | None = None) -> None:
    present.plotly_chart(figure, key=key, filename=f"inside-{name}", on_select=on_select, columns=columns, top=top)


def show_input(trace: LayerTrace, queries: list[str], keys: list[str], rows: str) -> None:
    st.header("1. The layer's input X")
    below = (
        "the embeddings plus positional encodings (§3.4, §3.5)" if trace.layer == 0 else f"layer {trace.layer}'s output"
    )
    st.markdown(f"X is {below}: one row of d_model numbers per token, the *residual stream* every sub-layer adds to.")
    panels = [Panel("X, the layer's input", f"({rows}, d_model)", trace.input, queries)]
    if trace.kind == "cross":
        st.markdown(
            "In a decoder layer X first passes the masked self-attention sub-layer; the encoder–decoder "
            "attention reads its result **Y**, and takes its keys and values from the **encoder output E**."
        )
        panels += [
            Panel("Y, X after masked self-attention", "(T, d_model)", trace.attention.x, queries),
            Panel("E, the encoder output: gives K and V", "(S, d_model)", trace.memory, keys),
        ]
    if trace.pre_norm:
        panels.append(
            Panel("LayerNorm: what the attention reads", f"({rows}, d_model)", trace.attention.input, queries)
        )
    chart(matrices_figure(panels), "inside_input", "input", top=INPUT_TOP)
    if trace.kind != "encoder":  # under the figure: on a projector it ends above the fold
        st.caption(
            f"{row_convention(trace.kind)} So every matrix's row is named by the token its position writes, "
            "while it holds what that position computed from the token it reads."
        )


def show_projections(trace: LayerTrace, head: int, queries: list[str], keys: list[str], rows: str, columns: str):
    st.header("2. Queries, keys and values")
    attention = trace.attention
    d_model, (n_heads, _, d_k) = attention.x.shape[-1], attention.queries.shape
    cross = trace.kind == "cross"
    stream = "Y" if cross else "X"  # what the queries come from
    reads = f"LayerNorm({stream})" if trace.pre_norm else stream  # what the sub-layer reads
    keys_from = "E" if cross else reads  # and the keys and values
    q_from, kv_from = (text.replace("LayerNorm", r"\mathrm{LayerNorm}") for text in (reads, keys_from))
    st.latex(
        rf"Q = {q_from}\, W^Q,\quad K = {kv_from}\, W^K,\quad V = {kv_from}\, W^V,\qquad "
        rf"d_k = d_{{model}} / h = {d_model} / {n_heads} = {d_k}"
    )
    st.markdown(
        f"One linear map each (W_Q, W_K, W_V of size d_model × d_model); their {d_model} columns are then cut "
        f"into {n_heads} heads of d_k = {d_k}: head *i* works on its own block (§3.2.2)."
        + (" Y is the decoder's stream after masked self-attention, E the encoder output (section 1)." if cross else "")
    )
    split = [
        Panel(f"Q = {reads}·W_Q, cut into heads", f"({rows}, d_model)", attention.queries, queries),
        Panel(f"K = {keys_from}·W_K", f"({columns}, d_model)", attention.keys, keys),
        Panel(f"V = {keys_from}·W_V", f"({columns}, d_model)", attention.values, keys),
    ]
    chart(matrices_figure(split, head=head), "inside_split", "heads")
    one_head = [
        Panel(f"Q, {head_label(head)}", f"({rows}, d_k)", attention.queries[head], queries),
        Panel(f"K, {head_label(head)}", f"({columns}, d_k)", attention.keys[head], keys),
        Panel(f"V, {head_label(head)}", f"({columns}, d_k)", attention.values[head], keys),
    ]
    chart(matrices_figure(one_head), "inside_qkv", f"qkv-head{head + 1}")


def show_scores(trace: LayerTrace, head: int, axes: TokenAxes) -> None:
    st.header("3. Scores, scaling, mask, softmax")
    st.latex(r"\mathrm{softmax}\left(\frac{Q K^\top}{\sqrt{d_k}} + M\right),\qquad M_{ij} = 0 \text{ or } -\infty")
    st.markdown("The same four steps as on the Masks page, for this layer and head; the last map is the model's own.")
    if convention := row_convention(axes.kind):
        st.caption(convention)
    figures = attention_step_figures(trace.attention.steps(head), axes.queries, axes.keys, **axes.options)
    for row in range(0, len(figures), 2):
        for column, (name, figure) in zip(st.columns(2), list(figures.items())[row : row + 2]):
            with column:
                chart(figure, f"inside_{name}", name, columns=2)


def select_clicked_key() -> None:
    points = st.session_state["inside_neuron_view"].selection.points
    key = neuron_key_target(points[0]) if points else None
    if key is not None:
        st.session_state["inside_key"] = key


def show_neuron_view(trace: LayerTrace, head: int, query: int, queries: list[str], keys: list[str]) -> None:
    st.header("4. Neuron view: one query against every key")
    neuron = trace.attention.neuron(head, query)
    st.markdown(
        f"The query **{markdown_token(queries[query])}** has the vector q; each key j its vector k_j. Their elementwise "
        "product q ⊙ k_j summed is the score q·k_j; scaled by 1/√d_k and passed through the softmax it is "
        "the weight, the opacity of the line. Click a key (or pick it below) to see its q ⊙ k bars."
    )
    url.keep_valid("inside_key", list(range(len(keys))), int(neuron.weights.argmax()))
    key = st.session_state["inside_key"]
    figure = neuron_view(
        neuron, queries[query], keys, key, title=f"{head_label(head).capitalize()}, query {label(queries[query])}"
    )
    chart(figure, "inside_neuron_view", f"neuron-view-head{head + 1}", on_select=select_clicked_key)
    shown = sidebar.shown_tokens(keys)
    key = st.selectbox(
        "Key", range(len(keys)), key=url.kept("inside_key"), format_func=lambda j: f"{j + 1}: {shown[j]}"
    )
    bars = product_bars(
        neuron.products[key], queries[query], keys[key], neuron.scores[key].item(), neuron.weights[key].item()
    )
    chart(bars, "inside_products", f"q-times-k-head{head + 1}")


def show_head_output(trace: LayerTrace, head: int, query: int, queries: list[str], keys: list[str], rows: str):
    st.header("5. softmax · V: the head's output")
    st.latex(r"\mathrm{head}_i = \mathrm{softmax}\left(\frac{Q_i K_i^\top}{\sqrt{d_k}} + M\right) V_i")
    st.markdown("Each output row is a mixture of the value vectors, weighted by that query's attention.")
    neuron = trace.attention.neuron(head, query)
    output = Panel(f"{head_label(head)}: softmax(·)·V", f"({rows}, d_k)", trace.attention.heads[head], queries)
    chart(matrices_figure([output]), "inside_head_output", f"head{head + 1}-output")
    mixture = mixture_figure(
        neuron.weights,
        neuron.weighted_values,
        neuron.output,
        keys,
        queries[query],
        f"The output of {label(queries[query])}",
    )
    chart(mixture, "inside_mixture", f"mixture-head{head + 1}")


def show_concat(trace: LayerTrace, head: int, queries: list[str], rows: str) -> None:
    st.header("6. Concatenate the heads, multiply by W^O, add the residual, LayerNorm")
    st.latex(r"\mathrm{MultiHead}(Q, K, V) = \mathrm{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_h)\, W^O")
    st.latex(SUBLAYER[trace.pre_norm])
    attention = trace.attention
    st.markdown(
        "W^O (d_model × d_model) mixes the heads' outputs into one vector per token; the residual connection "
        f"adds it to the stream x. This checkpoint is **{'pre' if trace.pre_norm else 'post'}-norm**."
    )
    mixed = [
        Panel("Concat(head_1, …, head_h)", f"({rows}, h·d_k)", attention.heads, queries),
        Panel("· W^O = MultiHead", f"({rows}, d_model)", attention.output, queries),
    ]
    chart(matrices_figure(mixed, head=head), "inside_concat", "concat-wo")
    residual = [Panel("x + MultiHead", f"({rows}, d_model)", attention.residual_sum, queries)]
    if not trace.pre_norm:
        residual.append(Panel("LayerNorm(x + MultiHead)", f"({rows}, d_model)", attention.result, queries))
    chart(matrices_figure(residual), "inside_residual", "attention-residual")
    if trace.kind == "decoder":
        st.markdown(
            "Then the encoder–decoder attention sub-layer (the kind *Encoder–decoder attention* above) adds "
            "the source to the stream; the feed-forward network reads its result."
        )
        after = Panel("after encoder–decoder attention", "(T, d_model)", trace.feed_forward.x, queries)
        chart(matrices_figure([after]), "inside_cross_result", "after-cross-attention")


def show_feed_forward(trace: LayerTrace, queries: list[str], rows: str, last: bool) -> None:
    st.header("7. The feed-forward network")
    st.latex(r"\mathrm{FFN}(x) = \max(0,\, x W_1 + b_1)\, W_2 + b_2")
    feed_forward = trace.feed_forward
    d_ff = feed_forward.hidden.shape[-1]
    st.markdown(
        f"The feed-forward layer is applied to each position alike (§3.3): it widens every token to d_ff = "
        f"{d_ff} numbers, the ReLU zeroes the negative ones (**{feed_forward.zero_share:.0%}** here), and W_2 "
        "brings them back to d_model; then the residual connection and LayerNorm as above."
    )
    hidden = Panel(
        f"ReLU(x·W_1 + b_1): {feed_forward.zero_share:.0%} zeros", f"({rows}, d_ff)", feed_forward.hidden, queries
    )
    chart(matrices_figure([hidden]), "inside_ff_hidden", "ffn-hidden")
    panels = [
        Panel("FFN(x) = hidden·W_2 + b_2", f"({rows}, d_model)", feed_forward.output, queries),
        Panel("x + FFN(x)", f"({rows}, d_model)", feed_forward.residual_sum, queries),
    ]
    if not trace.pre_norm:
        panels.append(Panel("LayerNorm(x + FFN(x))", f"({rows}, d_model)", feed_forward.result, queries))
    chart(matrices_figure(panels), "inside_ff_output", "ffn-output")
    stack = "encoder" if trace.kind == "encoder" else "decoder"
    if not last:
        after = f"the input X of {stack} layer {trace.layer + 2}"
    elif stack == "encoder":
        after = "the encoder output" + (" (after a final LayerNorm)" if trace.pre_norm else "")
        after += ", which gives the keys and values of every encoder–decoder attention"
    else:
        after = "the decoder's final state" + (" (after a final LayerNorm)" if trace.pre_norm else "")
        after += ", which the output projection and softmax turn into next-token probabilities"
    st.success(f"The last matrix is the output of {stack} layer {trace.layer + 1}: {after}.")


def main() -> None:
    checkpoint = checkpoints.checkpoint_for_page("Inside a layer")
    if checkpoint is None:
        return
    translator = checkpoint.translator
    config = translator.config
    pickers.restore_view(config, "inside_", DEFAULT_KIND)
    url.restore_text()  # before the gallery, which says what to look at in the sentence
    # On a projector the examples stand beside the sentence: the first matrix ends above the fold.
    gallery_column, text_column = present.side_by_side(2)
    with gallery_column:
        gallery.gallery(translator.info.get("source_language"), key="inside_example")
    with text_column:
        text = url.sentence_input(checkpoint)
    if not text.strip():
        st.info("Type a sentence above to look inside a layer.")
        url.set_url(text=text)
        return
    translation, _ = results.translate(checkpoint, text)
    if translation.truncated:
        st.warning(
            f"The sentence is longer than this model's limit: only its first {translator.max_source_tokens} tokens are used."
        )
    st.markdown(
        f"Translation: **{translation.text}**. Pick the kind of attention, the layer, the head and the query token; "
        "the page walks through that layer from top to bottom with the model's own numbers."
    )
    axes, layer, head, query = pick(config, translation)
    kind = axes.kind
    src = torch.tensor([translation.source_ids])
    tgt = torch.tensor([[config.bos_id, *translation.output_ids[:-1]]])  # the decoder inputs, target_tokens
    trace = inside_layer(translator.model, src, tgt, kind, layer)
    queries, keys = axes.queries, axes.keys
    rows, columns = ("S", "S") if kind == "encoder" else ("T", "T" if kind == "decoder" else "S")
    show_input(trace, queries, keys, rows)
    show_projections(trace, head, queries, keys, rows, columns)
    show_scores(trace, head, axes)
    source.source_expander("transformer.attention.scaled_dot_product_attention", ".softmax(dim=-1)", key="inside_code")
    show_neuron_view(trace, head, query, queries, keys)
    show_head_output(trace, head, query, queries, keys, rows)
    show_concat(trace, head, queries, rows)
    show_feed_forward(trace, queries, rows, last=layer + 1 == config.layers(kind))
    url.set_url(text=text, kind=kind, layer=url.url_value(layer), head=url.url_value(head), query=url.url_value(query))


main()
