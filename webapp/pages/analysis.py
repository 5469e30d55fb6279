"""Analysis: which heads matter and how information flows, computed live on the loaded checkpoint.

One tab each: attention rollout and source relevance (Abnar & Zuidema, 2020); per-head statistics
over the dev sample or the sentence; live head ablation; head importance and the pruning curve
(Michel et al., 2019), shipped with the checkpoint or cached; one head's attention across
training; the source-target alignment, plain or Shift-Att (Chen et al., 2020); and gradient
attribution beside attention. Only the open tab runs. The sentence, the tab and each tab's view
live in the URL; a click on a head opens it on the Translate page. The tabs are in
webapp/analysis/: flow.py, heads.py and attribution.py, their shared pieces in common.py.
"""

import streamlit as st

from webapp import registry
from webapp.analysis import attribution
from webapp.analysis.common import OPEN_TRANSLATE, ablation_options, ablation_param, parse_ablation
from webapp.analysis.flow import alignment_tab, rollout_tab, training_tab
from webapp.analysis.heads import ablation_tab, importance_tab, statistics_tab
from webapp.state import checkpoints, results, url

TABS = {  # URL value -> (tab label, what draws it)
    "rollout": ("Rollout", rollout_tab),
    "statistics": ("Head statistics", statistics_tab),
    "ablation": ("Ablation", ablation_tab),
    "importance": ("Head importance", importance_tab),
    "training": ("Across training", training_tab),
    "alignment": ("Alignment", alignment_tab),
    "attribution": ("Attribution", attribution.attribution_tab),
}
TAB_KEY = "analysis_tab"


def restore_view_from_url(config) -> None:
    """The tab, the heads switched off and the attribution's method and steps, from the link."""
    tab = url.url_param("tab")
    if tab in TABS:
        st.session_state[TAB_KEY] = TABS[tab][0]
    elif tab is not None:
        url.notice(f"The link's tab is not one of {', '.join(TABS)}; showing {next(iter(TABS))}.")
    url.restore_param(
        "off",
        None,
        lambda value: parse_ablation(value, ablation_options(config)),
        "The link's heads to switch off (off=kind-layer-head,...) are not all heads of this model, or more "
        "than it has; none is off.",
    )
    url.restore_param(
        "method",
        "attribution_method",
        attribution.parse_method,
        f"The link's method is not one of {', '.join(attribution.METHODS)}; showing integrated gradients.",
    )
    url.restore_param(
        "steps",
        "attribution_steps",
        attribution.parse_steps,
        f"The link's steps are not one of {', '.join(map(str, attribution.STEP_CHOICES))}; "
        f"using {attribution.DEFAULT_STEPS}.",
    )


def main() -> None:
    if st.session_state.pop(OPEN_TRANSLATE, False):
        st.switch_page(registry.script("translate"))
    checkpoint = checkpoints.checkpoint_for_page("Analysis")
    if checkpoint is None:
        return
    restore_view_from_url(checkpoint.translator.config)
    text = url.sentence_input(checkpoint)
    translation = None
    if text.strip():
        translation, _ = results.translate(checkpoint, text, "fp32")  # what the tabs ablate and differentiate
        if translation.truncated:
            st.warning(
                f"The sentence is longer than this model's limit: only its first {checkpoint.translator.max_source_tokens} tokens are used."
            )
    # Tabs that track the open one run only that one: the importance tab may compute for a while.
    tabs = st.tabs([label for label, _ in TABS.values()], key=url.kept(TAB_KEY), on_change="rerun")
    opened = next(iter(TABS))
    for (name, (_, section)), tab in zip(TABS.items(), tabs):
        if tab.open:
            opened = name
            with tab:
                section(checkpoint, translation)
    attributing = opened == "attribution"
    url.set_url(
        text=text,
        tab=opened,
        off=ablation_param(),
        method=st.session_state.get("attribution_method") if attributing else None,
        steps=st.session_state.get("attribution_steps") if attributing else None,
    )


main()
