"""Every threshold a check uses, in one place, each with where it comes from.

``SOURCES`` maps each constant's name to its source: a guide section (the files in
``../shared/seeds``: 001 = hyperparameter tuning guide, 003 = multi-epoch fine-tuning guide, 004 =
training-config guide) or the stated rationale when no guide gives a number. docs/doctor.md shows the
same table; a test keeps the two in step.
"""

from __future__ import annotations

# Shared evidence rules
MIN_POINTS = 5
SMOOTH_FRACTION = 0.05
EDGE_FRACTION = 0.1
# NaN / divergence
DIVERGE_REGRESS = 0.5
DIVERGE_RATIO = 1.5
DIVERGE_TAIL = 3
DIVERGE_EXPLODE = 3.0
DIVERGE_FROM_START = 0.2
DIVERGE_START_Z = 3.0
LR_DIVIDE = 10.0
# Flat loss and chance level
FLAT_REL = 0.02
LR_MULTIPLY = 10.0
CHANCE_TOL = 0.02
CHANCE_TOL_HINTED = 0.03
CHANCE_MAX_K = 10
CHANCE_SPREAD = 0.05
CHANCE_ACC_MARGIN = 0.1
LR_TYPICAL_MIN = 1e-5
# Zero loss
ZERO_EPS = 5e-5
ZERO_EARLY_FRACTION = 0.25
ZERO_SHARE = 0.25
ZERO_EVAL_EPS = 1e-3
CE_INIT_MAX = 25.0
# Spikes and oscillation
SPIKE_SKIP_FRACTION = 0.05
SPIKE_WINDOW = 9
SPIKE_RATIO = 2.0
SPIKE_Z = 6.0
SPIKE_NOISE_WINDOW = 21
SPIKE_PROGRESS_FRACTION = 0.25
OSC_SMOOTH_FRACTION = 0.1
OSC_PROMINENCE = 0.2
OSC_MIN_PEAKS = 2
OSC_NOISE_Z = 4.0
OSC_EPOCH_PHASE = 0.1
OSC_EPOCH_CORR = 0.5
VAL_SPIKE_RATIO = 2.0
# Gradient norm
GRAD_GROWTH = 10.0
GRAD_EXPLODE = 100.0
GRAD_CLIP = 1.0
LR_MILD_DIVIDE = 2.0
# Generalisation and length
OVERFIT_MIN_AFTER = 2
OVERFIT_LATE_FRACTION = 0.2
FEW_EVALS = 4
PARTIAL_RUN_FRACTION = 0.9
OVERFIT_RISE = 0.05
OVERFIT_DROP = 0.02
OVERFIT_GAP_RATIO = 3.0
OVERFIT_PATIENCE = 3
OVERFIT_MILD_SHARE = 0.25
OVERFIT_MILD_RISE = 0.2
OVERFIT_ACC_GAP = 0.2
OVERFIT_ACC_MEMORISED = 0.95
OVERFIT_NOISE_Z = 3.0
NO_PROGRESS_EVAL = 0.05
NO_PROGRESS_TRAIN = 0.1
NO_PROGRESS_ACC = 0.02
PLATEAU_GAIN = 0.25
PLATEAU_TAIL_SHARE = 0.05
PLATEAU_TAIL_LEVEL = 0.01
PLATEAU_SMOOTH_MIN = 8
WEIGHT_DECAY_RAISE = 5.0
UNDERFIT_ACC = 0.7
UNDERFIT_GAP = 0.05
UNDERFIT_PROGRESS = 0.5
UNDERFIT_CHANCE_FRACTION = 0.5
IMPROVING_TAIL = 0.34
IMPROVING_SHARE = 0.1
IMPROVING_LAST_GAIN = 0.05
IMPROVING_REL_DROP = 0.1
TREND_Z = 1.96
TREND_MAX_POINTS = 60
SATURATE_LEVEL = 0.95
SATURATE_FRACTION = 0.3
SATURATE_MIN_GAIN = 0.05
SATURATE_PATIENCE = 5
NAN_GRAD_RARE = 0.01
NAN_GRAD_EARLY = 0.05
# Schedule and evaluation cadence
WARMUP_EARLY_FRACTION = 0.1
WARMUP_RISE = 0.1
WARMUP_MIN_FRACTION = 0.06
WARMUP_PEAK = 0.95
LR_DECAY_MIN_RATIO = 0.9
DEFAULT_PATIENCE = 3
EVAL_SPARSE_MARGIN = 2
EVAL_COVERAGE = 0.5
EVAL_TARGET_PER_PATIENCE = 4
LR_MISMATCH = 0.1

SOURCES: dict[str, str] = {
    "MIN_POINTS": "rationale: fewer than 5 logged points cannot separate a trend from batch noise",
    "SMOOTH_FRACTION": "rationale: a running median over 5% of the points removes single-batch outliers but keeps turns",
    "EDGE_FRACTION": "rationale: start and end levels are medians over the first/last 10% of points (at least 2)",
    "DIVERGE_REGRESS": "rationale: a run that gives back half of the progress it made has diverged, not wobbled",
    "DIVERGE_RATIO": "rationale: the end level must also be 1.5x the best level, so noise near a floor is not divergence",
    "DIVERGE_TAIL": "rationale: the last 3 points must all stay high (a sustained rise, not one spike)",
    "DIVERGE_EXPLODE": "001 'Signs you have the wrong LR': loss explodes immediately; rationale: the smoothed loss reaching 3x its starting level",
    "DIVERGE_FROM_START": "004 'Train Baseline': is the model learning? (loss decreasing); rationale: a train loss (and eval loss) never below its first logged value that ends 20% above it is rising from the start",
    "DIVERGE_START_Z": "rationale: a loss that rose from its first log stands clear of its own noise: the first value at least 3 robust standard deviations (MAD of the later values) below their median, the OVERFIT_NOISE_Z scale of a real change; a noisy flat loss whose first value happens to be its lowest did not rise",
    "LR_DIVIDE": "001 'Signs you have the wrong LR': loss explodes -> LR too high -> divide by 10; 004 step 3",
    "FLAT_REL": "001 'Signs you have the wrong LR': loss barely moves -> LR too low; rationale: < 2% change start to end",
    "LR_MULTIPLY": "001 'Signs you have the wrong LR': multiply by 10; 004 'Adjust LR': flat -> increase by 10x",
    "CHANCE_TOL": "rationale: ln K for K <= 10 are >= 5% apart, so a 2% band names one K when K is inferred",
    "CHANCE_TOL_HINTED": "rationale: with K known from the config a wider 3% band allows for label smoothing and noise",
    "CHANCE_MAX_K": "rationale: beyond 10 classes ln K values crowd together and a match says little",
    "CHANCE_SPREAD": "rationale: a plateau is the last half of the curve varying by < 5% of its level",
    "CHANCE_ACC_MARGIN": "rationale: accuracy within 0.1 of 1/K (the prior of a balanced task) corroborates chance level",
    "LR_TYPICAL_MIN": "001 'Starting points by optimizer': the lowest typical LR of any optimizer is 1e-5 (AdamW fine-tuning); a flat loss below it is an LR too low, not a collapse",
    "ZERO_EPS": "rationale: HF rounds logged losses to 4 decimals, so 0.0 means < 5e-5",
    "ZERO_SHARE": "rationale: a quarter of all logged train losses at exactly 0 is a degenerate task wherever the first zero falls",
    "ZERO_EVAL_EPS": "rationale: a mean held-out cross-entropy below 1e-3 means >= 99.9% confidence on every held-out example: leakage or a trivial target, not skill; read only where the loss is known to be a cross-entropy (an HF Trainer log, a class count, or a classification metric beside it), since an MSE's scale is the target's",
    "ZERO_EARLY_FRACTION": "rationale: a loss at zero within the first quarter of the run (of the logged train losses, or of the evaluations, and then within their first MIN_POINTS) is leakage, not memorisation; a held-out loss reached gradually over many evaluations is an easy task learned",
    "CE_INIT_MAX": "rationale: a cross-entropy starts near ln(classes) and ln(262,144) (the largest vocabularies in common use) is 12.5; a first loss above twice that is a regression loss (MSE), whose scale is the target's and whose zero says nothing about leakage",
    "SPIKE_SKIP_FRACTION": "rationale: the first 5% of the run is warmup's domain (warmup_too_short)",
    "SPIKE_WINDOW": "rationale: the local level is a running median over 9 logged points",
    "SPIKE_RATIO": "001 'Gradient Clip Value': 'loss spikes suddenly (NaN or large jump)'; rationale: at least 2x the local level",
    "SPIKE_Z": "rationale: 6 robust standard deviations above the local level, beyond ordinary batch noise",
    "SPIKE_NOISE_WINDOW": "rationale: batch noise is measured (robust MAD) over the 21 logged points around each candidate",
    "SPIKE_PROGRESS_FRACTION": "rationale: a jump (a spike, a val spike, an oscillation's swing) must be at least 25% of the loss drop the run achieved, so blips near zero and a plateau's evaluation noise are ignored",
    "OSC_SMOOTH_FRACTION": "rationale: the train loss is smoothed over 10% of its points before looking for swings",
    "OSC_PROMINENCE": "001 'Loss oscillates but trends down'; 003 'Loss oscillates wildly'; rationale: swings of 20% of the curve's range",
    "OSC_MIN_PEAKS": "rationale: two such swings make an oscillation; one is a bump",
    "OSC_NOISE_Z": "rationale: a swing of the smoothed train loss must exceed 4 standard errors of what batch noise leaves after smoothing",
    "OSC_EPOCH_PHASE": "rationale: swings of the train loss that recur within 10% of an epoch of the same point in each epoch follow the data order (an unshuffled loader), not the LR",
    "OSC_EPOCH_CORR": "rationale: the raw train loss's shape within an epoch correlating >= 0.5 (on average) with the next epoch's is a pattern the data order repeats, not batch noise",
    "VAL_SPIKE_RATIO": "001 'Gradient Clip Value': 'loss spikes suddenly (NaN or large jump)'; rationale: evaluations at least 2x both the one before them and the one they come back to (one evaluation wide: a spike; a few: a blow-up the run recovered from)",
    "GRAD_GROWTH": "003 'Warning Signs': gradients explode (need lower learning rate or smaller max_grad_norm); rationale: the end level of the gradient norm 10x its start level",
    "GRAD_EXPLODE": "003 'Warning Signs': gradients explode; rationale: one logged gradient norm 100x the run's median",
    "GRAD_CLIP": "001 'Gradient Clip Value': max_norm=1.0 (for transformers always include it)",
    "LR_MILD_DIVIDE": "001 'Signs you have the wrong LR': oscillates -> slightly high -> mild reduction",
    "PARTIAL_RUN_FRACTION": "rationale: a log ending before 90% of the trainer state's own max_steps is a checkpoint of an unfinished run (resume it; do not lengthen it)",
    "FEW_EVALS": "rationale: a turn needs a best evaluation plus OVERFIT_MIN_AFTER after it, and one before it to be a turn: 4 evaluations",
    "OVERFIT_MIN_AFTER": "rationale: the turn needs at least 2 evaluations after the best one",
    "OVERFIT_LATE_FRACTION": "rationale: a turn whose evaluations after the best are fewer than 20% of the run's has had little time to persist, so like a turn of OVERFIT_MIN_AFTER evaluations it must rise past the best by OVERFIT_NOISE_Z robust standard deviations of the eval jitter; a practitioner reads a best in the last fifth of a noisy run as its luckiest evaluation, not a turn (the test6 label rules' 'the best lies before the last 20% of evaluations')",
    "OVERFIT_RISE": "003 'Warning Signs': validation loss increases while training loss decreases; rationale: >= 5% above the best",
    "OVERFIT_GAP_RATIO": "003 'Overfitting (train loss << eval loss)'; rationale: << = the final val loss 3x the final train loss, val no longer improving",
    "OVERFIT_DROP": "rationale: for higher-is-better metrics a 2% relative drop from the best",
    "OVERFIT_PATIENCE": "003 'For Maximum Quality' config: early_stopping_patience 3",
    "OVERFIT_MILD_SHARE": "rationale: a turn that gave back less than a quarter of the improvement made before it is mild (info): the best checkpoint keeps almost all of it",
    "OVERFIT_MILD_RISE": "rationale: and ends less than 20% above its best value (a larger rise is a warning however much came before)",
    "OVERFIT_ACC_GAP": "004 'Train Baseline': overfitting = train acc >> val acc; rationale: >> = 0.2 apart at the end",
    "OVERFIT_NOISE_Z": "rationale: a turn seen on only OVERFIT_MIN_AFTER evaluations must rise past the best by 3 robust standard deviations of the eval-to-eval jitter (MAD of the successive differences from mid-run to the best / sqrt 2), so a noisy flat curve's last two evaluations are not a turn; a longer turn counts by persistence",
    "OVERFIT_ACC_MEMORISED": "004 'Train Baseline' (train acc >> val acc); rationale: the accuracy gap counts once train accuracy reaches 0.95 (the training set is memorised)",
    "NO_PROGRESS_EVAL": "001 'Signs you have the wrong LR': loss barely moves -> LR too low; rationale: the best evaluation is < 5% better than the first; with no evaluation logged, the train loss (the only curve) read alike: its end level (median of the last 10%) < 5% below its start",
    "NO_PROGRESS_TRAIN": "001 'Signs you have the wrong LR': loss barely moves; rationale: the train loss fell < 10% from its first logged level",
    "NO_PROGRESS_ACC": "rationale: an accuracy-like metric that moved by < 0.02 (absolute) from its first evaluation did not improve",
    "PLATEAU_GAIN": "the corpus label rules (manifest 'about', rule 9, how a practitioner reads a curve): a model trained from scratch that lowered its judged loss by less than a quarter of its first value never got good",
    "PLATEAU_TAIL_SHARE": "the corpus label rules (rule 9): the last half of the curve is flat when it brings less than 5% of the fall from the first point to the best",
    "PLATEAU_TAIL_LEVEL": "the corpus label rules (rule 9): or less than 1% of the loss level (or no Mann-Kendall trend at TREND_Z: it moves within its noise)",
    "PLATEAU_SMOOTH_MIN": "the corpus label rules: a curve of 8 or more points is read through its noise, a median of 3 neighbours",
    "WEIGHT_DECAY_RAISE": "003 'Overfitting': add/increase weight decay (0.01 -> 0.05)",
    "UNDERFIT_ACC": "004 'Train Baseline': underfitting = both accuracies low; rationale: train accuracy below 0.7",
    "UNDERFIT_GAP": "003 'Underfitting (both losses high)': no generalisation gap, train loss >= 95% of eval loss",
    "UNDERFIT_PROGRESS": "rationale: the train loss fell by less than half from its first logged value",
    "UNDERFIT_CHANCE_FRACTION": "rationale: with K classes known, a final loss above half of ln K is still high",
    "IMPROVING_TAIL": "001 'Number of Epochs': if val loss is still decreasing at the end, train longer; the end = the last third",
    "IMPROVING_SHARE": "rationale: the last third of the run still delivered >= 10% of the total improvement",
    "IMPROVING_LAST_GAIN": "rationale: or the last evaluation beats every earlier one by >= 5% (the OVERFIT_RISE scale of a real change): still going down at the end",
    "IMPROVING_REL_DROP": "001 'Number of Epochs': if val loss is still decreasing at the end, train longer; rationale: for a loss or error bounded by 0 'still decreasing' is read on its own scale too: the level at the end (median of the last 10%) is >= 10% below the level where the last third starts (twice OVERFIT_RISE's 5% scale of a real change), with the best value at the end; a loss approaching 0 makes 0.053 -> 0.044 a tiny share of a 0.6 -> 0.044 descent but a real gain still going on",
    "TREND_Z": "Mann-Kendall trend test (Mann 1945, Kendall 1975) at the 5% level: a train-only log's last third still falls when z <= -1.96 and the robust (Theil-Sen) line over it drops by more than 1 - SATURATE_LEVEL of the total improvement (by saturating's own definition the curve has not plateaued)",
    "TREND_MAX_POINTS": "rationale: the trend test reads at most 60 chunk medians of the last third, so a 7,500-point log stays well under the doctor's 0.3 s",
    "SATURATE_LEVEL": "rationale: 'plateaued' = within 5% of the total improvement from the level the curve settled at (the higher of its best value and the median of its last 10%, so one lucky evaluation in a noisy band does not set the line)",
    "SATURATE_FRACTION": "001 'Number of Epochs': if val loss plateaued 30% through, reduce epochs; 'plateaued' is either SATURATE_LEVEL's reading or, for a loss or error bounded by 0, the level changing by < FLAT_REL (flat_loss's 'barely moves') from 30% of the run to the end",
    "SATURATE_MIN_GAIN": "rationale: the curve must have improved by >= 5% at all (otherwise flat_loss applies); a quantity with no zero to measure from (a reward: some value <= 0) must instead have improved by OVERFIT_NOISE_Z robust standard deviations of its step-to-step jitter",
    "NAN_GRAD_RARE": "torch.amp.GradScaler (growth_interval 2000, backoff_factor 0.5): mixed-precision training skips a step whose gradients overflow and halves the scale, by design, about once per 2000 steps once calibrated; rationale: non-finite gradient norms on < 1% of the logged steps, every loss finite, are that calibration (info), more are a scale that never settles (warning)",
    "NAN_GRAD_EARLY": "torch.amp.GradScaler starts at init_scale 2**16 and halves it on every overflow, skipping that step, so an fp16 run skips its first steps until the scale fits (a handful of halvings); rationale: non-finite gradient norms only in the first 5% of the run (warmup's domain, as SPIKE_SKIP_FRACTION), every loss finite, are that first calibration (info), whatever their share of a short log",
    "SATURATE_PATIENCE": "004 'Early Stopping': patience 5-15 (the lower end: the run already plateaued)",
    "WARMUP_EARLY_FRACTION": "001 'Warmup Steps': early updates without warmup can be destructive; early = the first 10% of the run",
    "WARMUP_RISE": "rationale: the early smoothed loss rising 10% above where it started is instability",
    "WARMUP_MIN_FRACTION": "001 'Warmup Steps': warmup_steps = 6% of total steps",
    "WARMUP_PEAK": "rationale: warmup ends when the logged LR first reaches 95% of its peak",
    "LR_DECAY_MIN_RATIO": "001 'Scheduler Choice' and 'Number of Epochs' (train until the LR reaches eta_min); rationale: < 10% decay = never decayed",
    "DEFAULT_PATIENCE": "003 'For Maximum Quality': early_stopping_patience 3 (the smallest patience the guides use)",
    "EVAL_SPARSE_MARGIN": "rationale: early stopping needs patience evaluations after the best plus the best and one before it",
    "EVAL_COVERAGE": "rationale: evaluations that stop before half of the run leave the rest unmonitored",
    "EVAL_TARGET_PER_PATIENCE": "004 'Early Stopping' patience 5-15 with evaluation every epoch; rationale: 4x patience evaluations per run",
    "LR_MISMATCH": "rationale: a schedule never lifts the LR above its configured peak, and after warmup the LR is what the configured schedule gives at that step (HF's decays are the formulas of optim/schedules.py): a logged LR more than 10% off that is not the LR that was set",
}
