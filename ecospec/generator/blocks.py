"""Landing blocks: each a folder with block.yaml (typed parameters), template.html.j2 and style.css.

Built-in blocks ship in the `blocks` package; a project's own blocks/ folder adds blocks or
overrides built-in ones of the same name."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ecospec.generator.errors import Diagnostic, Location, relative_name
from ecospec.generator.source import read_yaml

ParamType = Literal[
    "text",
    "number",
    "bool",
    "url",
    "image",
    "link",
    "datetime",
    "enum",
    "color",
    "list",
    "object",
    "query",
    "aggregate",
    "entity",
    "fields",
    "values",
]


class ParamSpec(BaseModel):
    """One parameter of a block, as block.yaml declares it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: ParamType = Field(description="What the parameter holds.")
    description: str = Field(
        "", description="What the parameter is for; shown in docs and editors."
    )
    required: bool = Field(False, description="A landing must give this parameter.")
    default: Any = Field(None, description="The value when a landing gives none.")
    values: list[str] | None = Field(None, description="The allowed values of an enum parameter.")
    of: ParamSpec | None = Field(None, description="The type of each item of a list parameter.")
    params: dict[str, ParamSpec] | None = Field(
        None, description="The keys of an object parameter (or of each item of a list of objects)."
    )
    entity_param: str = Field(
        "creates", description="For fields/values: the sibling parameter naming the entity."
    )


class BlockSpec(BaseModel):
    """block.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(description="The block's human name.")
    description: str = Field(description="What the block shows and when to use it.")
    params: dict[str, ParamSpec] = Field(
        default_factory=dict, description="The block's parameters."
    )
    form: bool = Field(False, description="The block posts a form to the runtime (lead forms).")
    region: Literal["header", "main", "footer"] = Field(
        "main",
        description="Where on the page the block goes: the header, the main content, or the footer.",
    )


@dataclass(frozen=True)
class Block:
    name: str
    spec: BlockSpec
    folder: Path
    template: str
    css: str
    script: str

    @property
    def template_name(self) -> str:
        return f"{self.name}/template.html.j2"


@dataclass
class BlockLibrary:
    blocks: dict[str, Block] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def get(self, name: str) -> Block | None:
        return self.blocks.get(name)


def builtin_folder() -> Path:
    """The built-in blocks, shipped in the ecospec.blocks package."""
    return Path(str(files("ecospec.blocks")))


def load_blocks(project: Path | None) -> BlockLibrary:
    """Built-in blocks, then the project's blocks/ (same names override)."""
    library = BlockLibrary()
    folders = [builtin_folder()]
    if project is not None:
        own = (project / "blocks").resolve()
        if own.is_dir() and own != folders[0].resolve():
            folders.append(own)
    for folder in folders:
        inside = project is not None and folder.resolve().is_relative_to(project.resolve())
        root = project.resolve() if project is not None and inside else folder.parent
        for block_dir in sorted(p for p in folder.iterdir() if (p / "block.yaml").is_file()):
            block = _load_block(block_dir, root, library.diagnostics)
            if block is not None:
                library.blocks[block.name] = block
    return library


def _load_block(folder: Path, root: Path, diagnostics: list[Diagnostic]) -> Block | None:
    name = folder.name
    source = read_yaml(folder / "block.yaml", relative_name(folder / "block.yaml", root))
    diagnostics.extend(source.diagnostics)
    if source.diagnostics:
        return None
    try:
        spec = BlockSpec.model_validate(source.data or {})
    except ValidationError as exc:
        for error in exc.errors():
            path = tuple(error["loc"])
            diagnostics.append(Diagnostic(source.value_location(path), path, error["msg"]))
        return None
    files = block_files(folder)
    if files is None:
        diagnostics.append(
            Diagnostic(
                Location(relative_name(folder / "template.html.j2", root), 1, 1),
                (),
                "the block has no template.html.j2",
            )
        )
        return None
    return Block(name, spec, folder, *files)


def block_files(folder: Path) -> tuple[str, str, str] | None:
    """A block folder's template, stylesheet and script (the last two may be missing: empty);
    None without a template."""
    try:
        template = (folder / "template.html.j2").read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        return None
    css_path, script_path = folder / "style.css", folder / "script.js"
    css = css_path.read_text(encoding="utf-8") if css_path.is_file() else ""
    script = script_path.read_text(encoding="utf-8") if script_path.is_file() else ""
    return template, css, script
