"""Forms of the region pages: they only parse input; the services hold the rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from linli.regions.choices import RegionLevel, child_level
from linli.regions.models import RegionNode


class RegionSearchForm(forms.Form):
    q = forms.CharField(label=_("Name or code"), required=False, max_length=100)
    level = forms.ChoiceField(
        label=_("Level"), required=False, choices=[("", _("All levels")), *RegionLevel.choices]
    )


class RegionCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    code = forms.CharField(
        label=_("Code"),
        max_length=15,
        required=False,
        help_text=_(
            "The official statistical code. Leave empty for a grid to take the next free code."
        ),
    )

    def __init__(self, *args: Any, parent: RegionNode, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parent = parent
        self.level = child_level(parent.level)
        if self.level != RegionLevel.GRID:
            # Only grids have no official code; every other level must use the real one.
            self.fields["code"].required = True
            self.fields["code"].help_text = _("The official statistical code.")


class RegionRenameForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)


class GridMoveForm(forms.Form):
    community = forms.ModelChoiceField(
        label=_("Target community"), queryset=RegionNode.objects.none(), empty_label=None
    )

    def __init__(self, *args: Any, user: Any, grid: RegionNode, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only communities the user may change: a tampered id outside scope is an invalid choice.
        field: Any = self.fields["community"]
        field.queryset = (
            RegionNode.objects.visible_to(user, "change")
            .active()
            .of_level(RegionLevel.COMMUNITY)
            .exclude(pk=grid.parent_id)
        )
        field.label_from_instance = lambda node: f"{node.name}（{node.code}）"
