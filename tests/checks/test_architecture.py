"""Structural comparison of traced forward passes (pure: plain event dicts, no torch)."""
from __future__ import annotations

import pytest

from checks.architecture import (MappingError, batchnorm_note, block_orders, describe_differences, differences,
                                 ends_in_log_softmax, map_parameters)


def conv(i, o, pad=0, w="c.w", b="c.b"):
    return {"op": "conv", "in": i, "out": o, "kernel": [5, 5], "stride": [1, 1], "padding": [pad, pad],
            "dilation": [1, 1], "groups": 1, "weight": w, "bias": b}


def fc(i, o, w, b):
    return {"op": "linear", "in": i, "out": o, "weight": w, "bias": b}


RELU, POOL = {"op": "relu"}, {"op": "max_pool", "kernel": [2, 2], "stride": [2, 2]}
REFERENCE = [conv(3, 6, w="c1.w", b="c1.b"), RELU, POOL, conv(6, 16, w="c2.w", b="c2.b"), RELU, POOL,
             fc(400, 120, "f1.w", "f1.b"), RELU, fc(120, 84, "f2.w", "f2.b"), RELU, fc(84, 10, "f3.w", "f3.b")]


def test_identical_structure_has_no_defects():
    assert describe_differences(REFERENCE, REFERENCE) == []


def test_padding_in_second_conv_is_named():
    student = list(REFERENCE)
    student[3] = conv(6, 16, pad=2, w="c2.w", b="c2.b")
    assert describe_differences(student, REFERENCE) == ["the second conv uses padding 2; the handout says none"]


def test_missing_relu_after_fc120_is_named():
    student = REFERENCE[:7] + REFERENCE[8:]
    assert describe_differences(student, REFERENCE) == ["no ReLU after FC 120"]


def test_average_pooling_is_named():
    student = list(REFERENCE)
    student[2] = {"op": "avg_pool", "kernel": [2, 2], "stride": [2, 2]}
    assert describe_differences(student, REFERENCE) == ["average pooling after conv 1 where max pooling is specified"]


def test_each_defect_has_a_diagnosis_code_beside_the_same_text():
    student = list(REFERENCE)
    student[3] = conv(6, 16, pad=2, w="c2.w", b="c2.b")
    student[2] = {"op": "avg_pool", "kernel": [2, 2], "stride": [2, 2]}
    student = student[:7] + student[8:]  # and no ReLU after FC 120
    found = [(d.code, d.text) for d in differences(student, REFERENCE)]
    assert [code for code, _ in found] == ["arch.avg_pool", "arch.conv_padding", "arch.missing_relu"]
    assert [text for _, text in found] == describe_differences(student, REFERENCE)


def test_dropout_is_not_a_defect():
    student = REFERENCE[:8] + [{"op": "dropout"}] + REFERENCE[8:]
    assert describe_differences(student, REFERENCE) == []


def test_mapping_follows_forward_order_not_names():
    student = [dict(e, weight=f"s{i}.w", bias=f"s{i}.b") if e["op"] in ("conv", "linear") else e for i, e in enumerate(REFERENCE)]
    shapes = {"c1.w": [6, 3, 5, 5], "c1.b": [6], "c2.w": [16, 6, 5, 5], "c2.b": [16], "f1.w": [120, 400], "f1.b": [120],
              "f2.w": [84, 120], "f2.b": [84], "f3.w": [10, 84], "f3.b": [10]}
    student_shapes = {f"s{i}.{k}": shapes[f"{e['weight'].split('.')[0]}.{k}"] for i, e in enumerate(REFERENCE)
                      if e["op"] in ("conv", "linear") for k in ("w", "b")}
    mapping = map_parameters(student, REFERENCE, student_shapes, shapes)
    assert mapping["c2.w"] == "s3.w" and mapping["f3.b"] == "s10.b"


def test_mapping_refuses_a_different_layer_sequence():
    with pytest.raises(MappingError):
        map_parameters(REFERENCE[:-1], REFERENCE, {}, {})


def test_an_extra_relu_after_pooling_is_named_with_the_events_that_correct_it():
    student = REFERENCE[:3] + [RELU] + REFERENCE[3:]  # conv1, relu, pool, relu: the tutorial's "to be safe"
    [d] = differences(student, REFERENCE)
    assert d.text == "ReLU applied 2 times after conv 1" and d.removable == (3,)


def test_a_log_softmax_at_the_end_is_no_difference_but_a_softmax_is():
    assert differences(REFERENCE + [{"op": "softmax", "log": True}], REFERENCE) == []
    [d] = differences(REFERENCE + [{"op": "softmax", "log": False}], REFERENCE)
    assert "softmax applied in forward after the last FC" in d.text and d.removable == (len(REFERENCE),)
    assert ends_in_log_softmax(REFERENCE + [{"op": "softmax", "log": True}])


def test_fc_inputs_changed_by_a_padded_conv_follow_from_it():
    student = list(REFERENCE)
    student[3] = conv(6, 16, pad=2, w="c2.w", b="c2.b")
    student[6] = fc(784, 120, "f1.w", "f1.b")
    padding, inputs = differences(student, REFERENCE)
    assert not padding.consequence and inputs.consequence and "follows from the above" in inputs.text


def test_batchnorm_after_the_relu_is_found_and_noted_layer_by_layer():
    bn = {"op": "batch_norm"}
    student = [REFERENCE[0], RELU, bn, POOL, REFERENCE[3], bn, RELU, POOL, REFERENCE[6], RELU, bn, REFERENCE[8], bn,
               RELU, REFERENCE[10]]
    assert block_orders(student) == (("relu", "batch_norm", "max_pool"), ("batch_norm", "relu", "max_pool"),
                                     ("relu", "batch_norm"), ("batch_norm", "relu"), ())
    note = batchnorm_note(student)
    assert "conv 1 (after its ReLU)" in note and "FC 120 (after its ReLU)" in note and "conv 2" not in note
    assert batchnorm_note([REFERENCE[0], bn] + REFERENCE[1:]) == ""
