"""The student edition's rubric: public checks only, one module per handout problem like the instructor
rubric (grader/rubric/), every test marked with its rubric number.

Nothing here imports `solutions` or a judge that embeds a reference answer: the checks are that the submission
loads, the names exist, the shapes are right, the answers parse and the training runs, plus the checks whose
oracle is public anyway (torch's cross-entropy and optimisers, the statistics of He initialisation, the
handout's own criteria). Items that are not public (RubricItem.public False) still show this verdict, but
only the instructor's run scores them; `grader.grade.score_items` says so in their feedback.
"""

CHECKS = {  # what the student edition checks, per automatic item (shown in the student README)
    "1.1": "form only: bptt_gradients runs and returns dL/dW_hz, dL/db_z of the parameters' shapes, finite",
    "1.2": "form only: bptt_gradients runs and returns dL/dW_hh, dL/dW_xh, dL/db_h of the parameters' shapes, finite",
    "2.1": "form only: problem2.G_3 parses as an expression in F, h0, x1, x2, ...",
    "3.1": "form only: problem3.sync_stages is a list of stage names (conv1..conv5, fc6..fc8)",
    "4.1": "form only: problem4.parameters parses as an expression in d, n, L, c",
    "4.2": "form only: problem4.sgd_multiplications parses as an expression in d, n, L, c",
    "4.3": "form only: problem4.path_multiplications parses as an expression in d, n, L, c",
    "5.1.1": "Net() builds and maps (N, 3, 32, 32) to finite (N, 10) logits; the instructor's run also compares "
             "its function with the handout's network",
    "5.1.2": "the instructor's check: loss_fn equals torch's cross-entropy, classic mistakes named",
    "5.1.3": "the graded training run completes without NaN (and meets the calibrated pass mark, when installed)",
    "5.2.1": "the instructor's check: Var[w] * fan_in / 2 = 1 per layer within a statistical bound",
    "5.2.2": "the graded training run with init_weights completes (and meets the calibrated pass mark, when installed)",
    "5.3.1": "NetBN() builds, maps (N, 3, 32, 32) to finite (N, 10) logits in train and eval mode, with a BatchNorm "
             "after each conv and hidden FC; the instructor's run also compares its function with the handout's",
    "5.3.2": "the graded training run completes without NaN (and meets the calibrated pass mark, when installed)",
    "5.4.1": "the instructor's check: trajectories equal torch.optim.Adam's",
    "5.4.2": "the instructor's check: trajectories equal torch.optim.RMSprop's",
    "5.4.3": "the augmentation criteria but the accuracy drop (which needs the instructor's reference classifier)",
}
