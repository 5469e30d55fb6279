"""figures/model_card.py: the architecture diagram drawn from a config, the parameter bars and the
training curves."""

import pandas as pd
import pytest

from figures.model_card import architecture_diagram, parameter_bars, training_curves
from tests.helpers import tiny_config
from transformer import Transformer
from transformer.analysis import parameter_counts


# -- the model card ---------------------------------------------------------------------------
def diagram_text(figure) -> str:
    return " ".join(annotation.text for annotation in figure.layout.annotations)


@pytest.mark.parametrize("pre_norm", [False, True])
def test_architecture_is_drawn_from_the_config(pre_norm):
    config = tiny_config(n_encoder_layers=3, pre_norm=pre_norm, tie_embeddings=False)
    text = diagram_text(architecture_diagram(config))
    assert "Encoder<br>× 3" in text and "Decoder<br>× 2" in text
    assert "4 heads, d_k = d_v = 8" in text and "32 → 48 → 32" in text
    assert "Linear 32 → 29" in text and "23 × 32" in text and "up to 40 positions" in text
    assert ("Final LayerNorm" in text) == pre_norm and ("Add & LayerNorm" in text) != pre_norm
    assert "tied" not in text
    figure = architecture_diagram(config)
    residuals = [a for a in figure.layout.annotations if a.showarrow and a.arrowwidth == 1.5]
    adds = [a for a in figure.layout.annotations if a.text.startswith("Add")]
    assert len(residuals) == len(adds) == 2 + 3  # one into every Add: 2 sub-layers per encoder layer, 3 per decoder
    for arrow in residuals:  # each ends at the side of its Add box, at its height
        add = min(adds, key=lambda a: abs(a.y - arrow.y) + abs(a.x - arrow.x))
        assert arrow.y == add.y and abs(arrow.x - add.x) == pytest.approx(2.2)
    assert "residual connection" in text
    tied = tiny_config(tgt_vocab_size=23, tie_embeddings=True)
    assert "share one 23 × 32 matrix" in diagram_text(architecture_diagram(tied))


def test_parameter_bars_add_up_to_the_models_parameters():
    model = Transformer(tiny_config())
    counts = parameter_counts(model)
    figure = parameter_bars(counts)
    assert list(figure.data[0].y) == list(counts) and list(figure.data[0].x) == list(counts.values())
    assert f"{sum(p.numel() for p in model.parameters()):,} parameters" == figure.layout.title.text


def test_training_curves_show_loss_warm_up_and_dev_bleu():
    log = pd.DataFrame(
        {
            "step": [100, 200, 300, 400],
            "train_loss": [5.0, 4.0, 3.5, 3.2],
            "lr": [1e-4, 2e-4, 1.6e-4, 1.4e-4],
            "dev_loss": [None, 3.9, None, 3.1],
            "dev_bleu": [None, 10.0, None, 20.0],
        }
    )
    figure = training_curves(log)
    by_name = {trace.name: trace for trace in figure.data}
    assert set(by_name) == {"training loss (label-smoothed)", "dev loss", "learning rate", "dev BLEU"}
    assert list(by_name["dev BLEU"].x) == [200, 400] and list(by_name["dev BLEU"].y) == [10.0, 20.0]
    assert "warm-up ends near step 200" in diagram_text(figure)
    with pytest.raises(ValueError, match="no lr column"):
        training_curves(log.drop(columns="lr"))
