"""Diagnosis codes: a stable key for each known defect a judge can name, and the short label the class page
shows next to its count ("nll_loss applied to raw logits: 14 students"). A judge puts the codes of the
defects it found into `Verdict.diagnoses`; the feedback a student reads is unchanged. A code is never
renamed (grade files of earlier batches hold it); a new defect gets a new code here."""
from __future__ import annotations

LABELS: dict[str, str] = {
    # 5.1.2 the softmax loss (checks.softmax_loss)
    "loss.nll_on_logits": "nll_loss applied to raw logits",
    "loss.summed": "loss summed over the batch instead of averaged",
    "loss.double_softmax": "softmax applied twice",
    "loss.no_minus": "negative sign missing from the loss",
    "loss.no_log": "log missing from the loss",
    "loss.per_class": "loss divided by the number of classes as well",
    "loss.double_mean": "loss averaged over the batch twice",
    "loss.unstable": "loss numerically unstable on large logits (no log-sum-exp)",
    # 1.1 / 1.2 BPTT (checks.bptt): the wrong variants of the algorithm, and simple error patterns
    "bptt.no_recursion": "BPTT: recursion through time missing (W_hh^T delta_{t+1})",
    "bptt.one_minus_h": "BPTT: (1 - h) used as the tanh derivative",
    "bptt.no_tanh_derivative": "BPTT: tanh derivative missing",
    "bptt.derivative_on_local_term_only": "BPTT: tanh derivative applied to the local term only",
    "bptt.recursion_without_transpose": "BPTT: W_hh instead of W_hh^T in the recursion",
    "bptt.h_t_instead_of_h_prev": "BPTT: h_t instead of h_{t-1} in dL/dW_hh",
    "bptt.no_target_subtracted": "BPTT: one-hot target not subtracted from z_t",
    "bptt.opposite_sign": "BPTT: gradient of the opposite sign",
    "bptt.last_step_only": "BPTT: only the last time step counted",
    "bptt.mean_over_time": "BPTT: averaged over time instead of summed",
    "bptt.transposed": "BPTT: gradient transposed",
    "bptt.scaled": "BPTT: gradient off by a constant factor",
    "bptt.zeros": "BPTT: gradient all zeros",
    "bptt.clipped": "BPTT: gradients clipped (min-char-rnn style) instead of dL/dtheta",
    # 5.1.1 / 5.3.1 architecture (checks.architecture)
    "arch.ops_before_conv": "operations before the first conv",
    "arch.cut_graph": "forward cuts the autograd graph (layers that never learn)",
    "arch.function_differs": "outputs differ from the handout's network with no named defect",
    "arch.conv_count": "wrong number of convolution layers",
    "arch.fc_count": "wrong number of fully connected layers",
    "arch.layer_order": "layers in a different order",
    "arch.conv_channels": "conv with the wrong number of output channels",
    "arch.conv_kernel": "conv with the wrong kernel size",
    "arch.conv_stride": "conv with the wrong stride",
    "arch.conv_padding": "conv with padding (the handout has none)",
    "arch.conv_dilation": "conv with dilation or groups",
    "arch.fc_outputs": "FC layer with the wrong number of outputs",
    "arch.fc_inputs": "FC layer with the wrong number of inputs",
    "arch.extra_batchnorm": "BatchNorm where the handout has none",
    "arch.missing_batchnorm": "BatchNorm missing after a layer",
    "arch.missing_relu": "ReLU missing after a layer",
    "arch.relu_on_logits": "ReLU applied to the logits",
    "arch.extra_relu": "ReLU where the handout has none",
    "arch.repeated_relu": "ReLU applied twice",
    "arch.other_activation": "another activation where the handout uses ReLU",
    "arch.avg_pool": "average pooling instead of max pooling",
    "arch.missing_pool": "max pooling missing after a conv",
    "arch.pool_size": "max pooling with the wrong kernel or stride",
    "arch.extra_pool": "pooling after an FC layer",
    "arch.softmax_in_forward": "softmax applied in forward (Net must return logits)",
    # 5.2.1 He initialisation (grader.rubric.public.p5_2_init)
    "init.wrong_variance": "init_weights: Var[w] not 2 / fan_in",
    "init.nonzero_mean": "init_weights: weights not zero-mean",
    # training runs 5.1.3 / 5.2.2 / 5.3.2 (grader.rubric.public.common)
    "train.failed": "training run failed",
    "train.pretrained": "network starts from stored weights",
    "train.not_fresh": "starting weights are not a fresh random draw",
    "train.not_finite": "training loss became NaN or infinite",
    "train.below_mark": "trains, but below the calibrated pass mark",
    "train.no_learning": "network does not learn",
    # 5.4.1 / 5.4.2 optimisers (grader.rubric.public.p5_4_optional)
    "opt.library_use": "optimiser uses torch.optim's code",
    "opt.trajectory": "optimiser departs from torch.optim's update",
}


def label(code: str) -> str:
    """The label of a code; an unknown code (from a newer grader's grade file) shows as itself."""
    return LABELS.get(code, code)
