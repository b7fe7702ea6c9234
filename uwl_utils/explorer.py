"""The attack explorer of notebook 00: pick a model, an image, an attack, ε and several weightings, press *Run*.

One press attacks the image once per ticked weighting (:func:`uwl_utils.notebook.compare_attack`) and shows the
predictions side by side with a table of APSR (paper Eq. 11) per weighting. The pure parts (:class:`Choice`,
:func:`readable_table`) carry no widgets and are tested without a browser.
"""

from __future__ import annotations

import html
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import HTML
from IPython.display import Image as PngImage
from PIL import Image

from uwl_utils.attacks import ATTACKS
from uwl_utils.notebook import compare_attack

__all__ = ["Choice", "readable_table", "AttackExplorer", "TABLE_HEADERS"]

TABLE_HEADERS = {
    "weighting": "weighting",
    "apsr": "APSR (%)",
    "gain_over_none": "APSR − none (points)",
    "linf_255": "‖δ‖∞ (/255)",
}


@dataclass(frozen=True)
class Choice:
    """The explorer's settings at one press: what :func:`compare_attack` is called with."""

    model: str
    image: int
    attack: str
    eps_255: float
    weightings: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.weightings:
            raise ValueError("tick at least one weighting")
        if self.attack not in ATTACKS:
            raise ValueError(f"unknown attack {self.attack!r}; known attacks: {', '.join(ATTACKS)}")
        if self.eps_255 <= 0:
            raise ValueError(f"ε must be positive; got {self.eps_255}/255")

    @property
    def caption(self) -> str:
        """One line naming every setting, e.g. ``"m · image 3 · fgsm · ε = 8/255 · none, L0"``."""
        return (
            f"{self.model} · image {self.image} · {self.attack} · ε = {self.eps_255:g}/255 · "
            f"{', '.join(self.weightings)}"
        )


def readable_table(table: pd.DataFrame, decimals: int = 1) -> pd.DataFrame:
    """:func:`compare_attack`'s table with headers that name their units, rounded to ``decimals``.

    Adds "APSR − none (points)" for each attacked row when ``none`` was run ("—" for the clean row).
    """
    missing = {"weighting", "apsr", "linf_255"} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks column(s) {sorted(missing)}; pass compare_attack's table")
    out = table[["weighting", "apsr", "linf_255"]].round(decimals)
    plain = table.loc[table["weighting"] == "none", "apsr"]
    if len(plain):
        gain = (table["apsr"] - plain.iloc[0]).round(decimals)
        out.insert(2, "gain_over_none", gain.astype(object).where(table["weighting"] != "clean", "—"))
    return out.rename(columns=TABLE_HEADERS)


def _thumbnail_png(image: torch.Tensor, width: int = 192) -> bytes:
    """A [3,H,W] image in [0,1] as PNG bytes, ``width`` pixels wide."""
    array = (image.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype("uint8")
    picture = Image.fromarray(array)
    picture = picture.resize((width, max(1, round(width * picture.height / picture.width))))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


class AttackExplorer(widgets.VBox):
    """Widgets for model, image (with a thumbnail), attack, ε (/255) and weightings; *Run* shows the comparison.

    ``load`` turns a model name into a network with ``palette`` (and optionally ``class_names``); models are
    loaded once and kept.
    """

    def __init__(
        self,
        models: Sequence[str],
        dataset: Any,
        *,
        load: Callable[[str], torch.nn.Module],
        attacks: Sequence[str] = ("fgsm", "ifgsm", "pgd"),
        eps_255: Sequence[float] = (1, 2, 4, 8, 16),
        weightings: Sequence[str] = ("none", "E", "L0"),
        default: tuple[str, float, Sequence[str]] = ("ifgsm", 4, ("none", "L0")),
        n_images: int = 8,
    ) -> None:
        attack, eps, ticked = default
        if not models:
            raise ValueError("models is empty; pass at least one model name")
        if attack not in attacks or eps not in eps_255 or not set(ticked) <= set(weightings):
            raise ValueError(f"default {default} is not among the choices {list(attacks)}, {list(eps_255)}, "
                             f"{list(weightings)}")  # fmt: skip
        self._dataset, self._load, self._models = dataset, load, {}
        style = {"description_width": "80px"}
        self.model = widgets.Dropdown(options=list(models), description="model", style=style)
        self.image = widgets.IntSlider(0, 0, max(0, min(n_images, len(dataset)) - 1), description="image", style=style)
        self.thumbnail = widgets.Image(format="png", layout=widgets.Layout(width="192px"))
        self.image_name = widgets.HTML()
        self.attack = widgets.Dropdown(options=list(attacks), value=attack, description="attack", style=style)
        self.eps = widgets.Dropdown(options=[(f"{e:g}", e) for e in eps_255], value=eps, description="ε (/255)",
                                    style=style)  # fmt: skip
        self.weightings = {
            w: widgets.Checkbox(w in ticked, description=w, indent=False, layout=widgets.Layout(width="auto"))
            for w in weightings
        }
        self.run_button = widgets.Button(description="Run", icon="play", button_style="primary",
                                         tooltip="attack the image once per ticked weighting")  # fmt: skip
        self.status = widgets.HTML("press <b>Run</b> to attack the image")
        self.output = widgets.Output()
        self.image.observe(lambda _: self._show_image(), names="value")
        self.run_button.on_click(lambda _: self.run())
        self._show_image()
        label = widgets.HTML("<div style='width:80px; text-align:right; padding-right:8px'>weightings</div>")
        boxes = widgets.HBox([label, *self.weightings.values()], layout=widgets.Layout(grid_gap="12px"))
        controls = widgets.VBox([self.model, self.image, self.attack, self.eps, boxes])
        picker = widgets.VBox([self.thumbnail, self.image_name])
        super().__init__([widgets.HBox([controls, picker], layout=widgets.Layout(grid_gap="24px")),
                          widgets.HBox([self.run_button, self.status]), self.output])  # fmt: skip

    def choice(self) -> Choice:
        """The settings the widgets show now."""
        ticked = tuple(w for w, box in self.weightings.items() if box.value)
        return Choice(self.model.value, self.image.value, self.attack.value, self.eps.value, ticked)

    def _show_image(self) -> None:
        item = self._dataset[self.image.value]
        self.thumbnail.value = _thumbnail_png(item["image"])
        name = html.escape(str(item.get("id", "")))
        self.image_name.value = f"<div style='font-size:90%'><b>image {self.image.value}</b><br>{name}</div>"

    def run(self) -> None:
        """Attack with the current settings: clear the old result, show "computing…", then the caption, the table
        and the figure (a PNG, so the result reads the same in any front end)."""
        self.output.outputs = ()
        try:
            choice = self.choice()
        except ValueError as err:
            self.status.value = f"<span style='color:#b00'>{html.escape(str(err))}</span>"
            return
        self.status.value = f"<i>computing… {html.escape(choice.caption)}</i>"
        self.run_button.disabled = True
        start = time.perf_counter()
        try:
            if choice.model not in self._models:
                self._models[choice.model] = self._load(choice.model)
            item = self._dataset[choice.image]
            fig, table = compare_attack(self._models[choice.model], item, choice.attack, choice.eps_255,
                                        choice.weightings)  # fmt: skip
            png = io.BytesIO()
            fig.savefig(png, format="png", dpi=100, bbox_inches="tight")
            plt.close(fig)
            self.output.append_display_data(HTML(f"<b class='uwl-caption'>{html.escape(choice.caption)}</b>"))
            self.output.append_display_data(HTML(readable_table(table).to_html(index=False)))
            self.output.append_display_data(PngImage(data=png.getvalue()))
            self.status.value = f"done in {time.perf_counter() - start:.1f} s"
        except Exception as err:  # a widget callback's only visible place for a failure: say it, keep the UI usable
            self.status.value = f"<span style='color:#b00'>failed: {html.escape(repr(err))}</span>"
            raise
        finally:
            self.run_button.disabled = False
