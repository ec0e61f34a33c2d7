"""The documentation matches the code: the model-zoo table is what the
registry computes, and every tool option a command in README.md or docs/
names exists in that tool's --help."""
import glob
import os.path as osp
import re
import subprocess
import sys

import pytest

from poa_test_helpers.scripts import ROOT, load_script

DOCS = [osp.join(ROOT, 'README.md')] + sorted(
    glob.glob(osp.join(ROOT, 'docs', '*.md')))
COMMAND = re.compile(r'python (tools|benchmarks)/(\w+)\.py((?:\\\n|[^\n`|])*)')
OPTION = re.compile(r'(?<![\w-])(--[a-z][a-z0-9-]*)')


def documented_options() -> dict:
    """{script: {options}} of every ``python tools/X.py ...`` command in
    the docs (code blocks and inline code; continuation lines joined)."""
    found = {}
    for path in DOCS:
        text = open(path).read()
        for folder, name, rest in COMMAND.findall(text):
            options = set(OPTION.findall(rest.split('#')[0]))
            found.setdefault(f'{folder}/{name}.py', set()).update(options)
    return found


def test_the_docs_name_commands():
    found = documented_options()
    assert 'tools/knn_eval.py' in found and 'tools/extract_subnet.py' in found
    assert '--subnets' in found['tools/knn_eval.py']


def test_model_zoo_table_and_metafile_are_current():
    """README table, metafile.yml and model-index.yml as generated; the
    index reaches every POA config, each in the collection."""
    import glob

    import yaml
    assert load_script('tools/model_zoo.py').main(['--check']) == 0
    index = yaml.safe_load(open(osp.join(ROOT, 'model-index.yml')))
    (metafile, ) = index['Import']
    meta = yaml.safe_load(open(osp.join(ROOT, metafile)))
    assert [c['Name'] for c in meta['Collections']] == ['POA']
    configs = sorted(m['Config'] for m in meta['Models'])
    assert configs == sorted(
        osp.relpath(p, ROOT)
        for p in glob.glob(osp.join(ROOT, 'configs', 'poa', '*.py')))
    assert all(m['In Collection'] == 'POA' and m['Metadata']['Parameters'] > 0
               for m in meta['Models'])


@pytest.mark.slow
def test_every_documented_option_exists():
    from poa_test_helpers.tools import run
    missing = []
    for script, options in sorted(documented_options().items()):
        proc = run([script, '--help'], ROOT, check=False, timeout=120)
        assert proc.returncode == 0, (script, proc.stderr[-500:])
        missing += [f'{script} {o}' for o in sorted(options)
                    if o not in proc.stdout]
    assert not missing, f'documented but not accepted: {missing}'


def test_one_version_in_setup_and_the_changelog():
    import poa_mm
    setup = subprocess.run([sys.executable, 'setup.py', '--version'],
                           cwd=ROOT, capture_output=True, text=True)
    assert setup.stdout.strip().splitlines()[-1] == poa_mm.__version__
    changelog = open(osp.join(ROOT, 'CHANGELOG.md')).read()
    first = re.search(r'^## (\S+)', changelog, re.M).group(1)
    assert first == poa_mm.__version__
