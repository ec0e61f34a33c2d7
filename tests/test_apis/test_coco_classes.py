"""COCO categories for the MMDetection writer: names by id, one-line errors
for malformed files."""
import json

import pytest

from poa_mm.apis.downstream.mmdet import classes_from_coco


def write(tmp_path, payload):
    path = tmp_path / 'instances_train.json'
    path.write_text(payload if isinstance(payload, str) else
                    json.dumps(payload))
    return str(path)


def test_names_in_id_order(tmp_path):
    path = write(tmp_path, dict(categories=[
        dict(id=3, name='cat'), dict(id=1, name='dog')]))
    assert classes_from_coco(path) == ('dog', 'cat')


@pytest.mark.parametrize('payload, message', [
    ('{"categories": [', 'is not a JSON file'),
    ([1, 2], 'no "categories" list'),
    (dict(images=[]), 'no "categories" list'),
    (dict(categories=[]), 'no "categories" list'),
    (dict(categories=[dict(name='dog')]), 'categories[0]'),
    (dict(categories=[dict(id='1', name='dog')]), 'integer "id"'),
    (dict(categories=[dict(id=1, name='')]), 'non-empty string "name"'),
    (dict(categories=[dict(id=1, name='a'), dict(id=1, name='b')]),
     'repeated category ids [1]'),
    (dict(categories=[dict(id=1, name='a'), dict(id=2, name='a')]),
     "repeated category names ['a']"),
])
def test_malformed_categories_are_one_line_errors(tmp_path, payload,
                                                  message):
    with pytest.raises(ValueError) as exc:
        classes_from_coco(write(tmp_path, payload))
    assert message in str(exc.value) and '\n' not in str(exc.value)
