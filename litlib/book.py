"""Book tooling: find the chapters, execute one, and build its Colab notebook.

Used by the Makefile (``make notebooks``), the test suite (chapter execution, notebook sync) and by authors
(``python -m litlib.book run book/part1/pararnn.md --scale smoke``). It needs the ``book``/``test`` extras
(jupytext, nbclient); they are imported lazily so that ``import litlib`` never requires them.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import time
from pathlib import Path
from typing import Any

REPO_URL = "https://github.com/litlib-book/litlib"
INSTALL_SOURCE = f"git+{REPO_URL}"
_MYST_LABEL = re.compile(r"^\([\w:.-]+\)=\s*$")
COLAB_HEADER = "Run this chapter on a GPU: Runtime -> Change runtime type -> T4 GPU, then run all cells."


def repo_root() -> Path:
    """The repository root (the folder holding ``_toc.yml``), found from this file or the working directory."""
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            if (folder / "_toc.yml").is_file():
                return folder
    raise FileNotFoundError("could not find _toc.yml above the working directory or litlib's source")


def _toc_files(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        if "file" in node:
            found.append(str(node["file"]))
        for value in node.values():
            found += _toc_files(value)
    elif isinstance(node, list):
        for item in node:
            found += _toc_files(item)
    return found


def chapters(root: Path | None = None) -> list[Path]:
    """The chapter sources listed in ``_toc.yml`` that execute code (MyST notebooks with code cells)."""
    import yaml

    base = root or repo_root()
    toc = yaml.safe_load((base / "_toc.yml").read_text())
    paths = [base / f"{name}.md" for name in _toc_files(toc)]
    return [p for p in paths if p.is_file() and "```{code-cell}" in p.read_text()]


def read_chapter(path: Path) -> Any:
    """Read a MyST chapter as an ``nbformat`` notebook."""
    import jupytext

    return jupytext.read(path, fmt="md:myst")


def execute_chapter(
    path: Path,
    scale: str = "smoke",
    timeout: int = 600,
    claims_dir: Path | None = None,
    threads: int | None = None,
) -> tuple[Any, float]:
    """Execute a chapter top to bottom at ``scale``; returns the executed notebook and the wall time in seconds.

    ``threads`` caps the kernel's intra-op threads (``OMP_NUM_THREADS``): the test suite runs two chapters at once
    on two cores and would otherwise oversubscribe them.

    Raises:
        nbclient.exceptions.CellExecutionError: when a cell fails (a failed claim included).
    """
    from nbclient import NotebookClient

    nb = read_chapter(path)
    env_before = dict(os.environ)
    os.environ["LITLIB_SCALE"] = scale
    if claims_dir is not None:
        os.environ["LITLIB_CLAIMS_DIR"] = str(claims_dir)
    if threads is not None:
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    try:
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        )
        start = time.perf_counter()
        client.execute()
        return nb, time.perf_counter() - start
    finally:
        os.environ.clear()
        os.environ.update(env_before)


def colab_notebook(path: Path) -> Any:
    """The Colab notebook of a chapter: its cells, a first cell that installs litlib only, and GPU metadata."""
    import nbformat

    nb = copy.deepcopy(read_chapter(path))
    install = nbformat.v4.new_code_cell(
        f"# {COLAB_HEADER}\n# Installs litlib only: Colab ships torch and triton, matched to its GPU.\n"
        f"%pip install --quiet 'litlib @ {INSTALL_SOURCE}'"
    )
    install.metadata = {"tags": ["colab-install"]}
    nb.cells.insert(0, install)
    for cell in nb.cells:
        cell.pop("id", None)
        if cell.cell_type == "markdown":  # MyST target labels mean nothing to Colab's renderer
            cell.source = "\n".join(line for line in cell.source.splitlines() if not _MYST_LABEL.match(line))
    nb.metadata.pop("jupytext", None)
    nb.metadata["accelerator"] = "GPU"
    nb.metadata["colab"] = {"provenance": [], "gpuType": "T4", "name": f"{path.stem}.ipynb"}
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


def colab_text(path: Path) -> str:
    """The exact text of the generated notebook for ``path`` (cell ids made deterministic)."""
    import nbformat

    nb = colab_notebook(path)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
    return nbformat.writes(nb) + "\n"


def write_notebooks(root: Path | None = None) -> list[Path]:
    """Regenerate ``<chapter>.ipynb`` beside every chapter source; returns the written paths."""
    written = []
    for md in chapters(root):
        target = md.with_suffix(".ipynb")
        text = colab_text(md)
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> None:
    """Command line: ``run CHAPTER [--scale S]`` or ``notebooks``."""
    parser = argparse.ArgumentParser(prog="python -m litlib.book")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="execute one chapter and report its wall time")
    run.add_argument("chapter", type=Path)
    run.add_argument("--scale", default="smoke", choices=["smoke", "cpu", "gpu"])
    sub.add_parser("notebooks", help="regenerate the Colab notebooks")
    args = parser.parse_args(argv)
    if args.cmd == "run":
        _, seconds = execute_chapter(args.chapter, args.scale)
        print(f"{args.chapter}: executed at scale {args.scale} in {seconds:.1f} s")
    else:
        for p in write_notebooks():
            print(f"wrote {p}")


if __name__ == "__main__":
    main()


def show_source(obj: Any) -> Any:
    """Display the source of a litlib function or class as highlighted code (in the book and on Colab alike).

    The chapter text never carries a second copy of library code: it shows the code that runs.
    """
    import inspect
    import textwrap

    from IPython.display import Markdown

    target = getattr(obj, "fn", obj)  # a Triton JITFunction wraps the Python function it compiles
    return Markdown(f"```python\n{textwrap.dedent(inspect.getsource(target)).rstrip()}\n```")
