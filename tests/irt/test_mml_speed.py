"""The E-step's shortcuts and SQUAREM change the speed of MML-EM, not its answer."""

import jax
import numpy as np
import pytest

from qbank.irt import ItemParams, MmlSettings, calibrate_mml, mml
from qbank.irt.mml_accel import squarem_point
from qbank.irt.mml_data import response_data
from tests.irt.test_mml import simulate


def _counts(responses, observed, model, layout, weights=None):
    truth_seed = np.random.default_rng(3)
    n_items = responses.shape[1]
    a = np.exp(truth_seed.normal(0, 0.3, n_items))
    b = truth_seed.normal(0, 1, n_items)
    c = truth_seed.uniform(0.1, 0.3, n_items) if model == "3pl" else np.zeros(n_items)
    points = np.linspace(-6, 6, 61)
    density = -0.5 * points**2
    with jax.enable_x64(True):
        data = response_data(responses, observed, weights)
        fit = mml._Fit(*(jax.device_put(x) for x in (a, b, c)))
        log_weights = jax.device_put(density - np.log(np.exp(density).sum()))
        found = mml._e_step(fit, data, jax.device_put(points), log_weights, layout)
        return data, [np.asarray(x) for x in found]


@pytest.mark.parametrize("model", ["2pl", "3pl"])
@pytest.mark.parametrize("sparse", [False, True])
def test_every_e_step_layout_gives_the_general_e_steps_counts(model, sparse):
    responses, _ = simulate(5, 300, 12, model)
    rng = np.random.default_rng(9)
    observed = rng.random(responses.shape) < 0.6 if sparse else np.ones(responses.shape, bool)
    weights = rng.integers(1, 4, responses.shape[0]).astype(float)
    data, general = _counts(responses, observed, model, mml.Layout(), weights)
    layout = mml.layout_of(data, np.zeros(12) if model == "2pl" else np.full(12, 0.2), model)
    assert layout == mml.Layout(complete=not sparse, linear=model == "2pl")
    _, fast = _counts(responses, observed, model, layout, weights)
    for name, expected, found in zip(mml._Posterior._fields, general, fast, strict=True):
        np.testing.assert_allclose(found, expected, rtol=1e-10, atol=1e-9, err_msg=name)
    # The counts are those of the data: right + wrong answers per item = answers per item.
    answered = (weights[:, None] * observed).sum(axis=0)
    np.testing.assert_allclose((fast[2] + fast[3]).sum(axis=1), answered, rtol=1e-10)


def test_a_2pl_anchor_with_guessing_keeps_the_e_step_general():
    responses, _ = simulate(2, 200, 6, "2pl")
    with jax.enable_x64(True):
        data = response_data(responses)
    assert mml.layout_of(data, np.array([0, 0, 0.2, 0, 0, 0]), "2pl") == mml.Layout(True, False)


@pytest.mark.parametrize("model", ["1pl", "2pl", "3pl"])
def test_squarem_reaches_plain_em_maximum_in_fewer_cycles_and_never_goes_down(model):
    responses, _ = simulate(11, 2000, 30, model)
    fits = {
        accelerate: calibrate_mml(
            responses, settings=MmlSettings(model=model, accelerate=accelerate, gtol=1e-4)
        )
        for accelerate in (True, False)
    }
    fast, plain = fits[True], fits[False]
    assert fast.converged
    assert plain.converged
    assert fast.cycles < plain.cycles
    log_post = np.array([c.log_posterior for c in fast.history])
    assert np.all(np.diff(log_post) >= -1e-12 * abs(log_post[0]))
    assert [c.cycle for c in fast.history] == list(range(1, fast.cycles + 1))
    # Both stop within gtol = 1e-4 SD of the same maximum: the estimates agree to a few 1e-4
    # of their SEs and the log posterior to far less than one unit.
    assert fast.log_posterior == pytest.approx(plain.log_posterior, abs=1e-3)
    for name in ("a", "b", "c") if model == "3pl" else ("a", "b"):
        difference = np.abs(np.asarray(getattr(fast.items, name)) - getattr(plain.items, name))
        assert np.all(difference < 1e-2 * np.asarray(getattr(plain.standard_errors, name)))


def test_anchors_stay_where_they_are_under_squarem():
    responses, truth = simulate(4, 1500, 15, "2pl")
    anchors = np.zeros(15, bool)
    anchors[:3] = True
    start = ItemParams(np.asarray(truth.a) * 1.1, np.asarray(truth.b) + 0.1, np.zeros(15))
    fit = calibrate_mml(responses, settings=MmlSettings(model="2pl"), start=start,
                        anchors=anchors)  # fmt: skip
    assert fit.converged
    # Returned in the caller's float32: equal to the start values to float32's rounding.
    np.testing.assert_allclose(np.asarray(fit.items.a)[:3], np.asarray(start.a)[:3], rtol=1e-7)
    np.testing.assert_allclose(np.asarray(fit.items.b)[:3], np.asarray(start.b)[:3], rtol=1e-7)
    assert np.max(np.abs(np.asarray(fit.items.b)[3:] - np.asarray(start.b)[3:])) > 0.01


def test_squarem_point_removes_a_linear_iterations_slow_component():
    # x_{k+1} = 0.9·x_k converges slowly to 0; from three iterates S3 lands on 0 exactly.
    x0 = np.array([[1.0, -2.0, 0.0]])
    x1, x2 = 0.9 * x0, 0.81 * x0
    mask = np.array([[True, True, False]])
    low, high = np.full(3, -10.0), np.full(3, 10.0)
    point, ratio = squarem_point(x0, x1, x2, mask, 100.0, low, high)
    np.testing.assert_allclose(point, 0.0, atol=1e-12)
    assert ratio == pytest.approx(10.0)
    # The cap on |alpha| holds, alpha = −1 gives x2, and the box is respected.
    capped, ratio = squarem_point(x0, x1, x2, mask, 1.0, low, high)
    np.testing.assert_allclose(capped, x2)
    assert ratio == 1.0
    boxed, _ = squarem_point(x0, x1, x2, mask, 100.0, np.full(3, 0.5), high)
    np.testing.assert_array_equal(boxed[0, :2], [0.5, 0.5])
    still, _ = squarem_point(x2, x2, x2, mask, 100.0, low, high)
    np.testing.assert_array_equal(still, x2)


def test_a_jump_that_lowers_the_log_posterior_is_not_taken(monkeypatch):
    """Every extrapolation here overshoots badly; EM must reject them and still converge."""
    responses, _ = simulate(6, 1000, 12, "2pl")
    plain = calibrate_mml(responses, settings=MmlSettings(model="2pl", accelerate=False))
    jumps = []

    def overshoot(x0, x1, x2, mask, max_ratio, low, high):
        jumps.append(1)
        return np.where(mask, np.clip(x2 + 2.0, low, high), x2), 2.0

    monkeypatch.setattr(mml, "squarem_point", overshoot)
    fit = calibrate_mml(responses, settings=MmlSettings(model="2pl"))
    assert jumps
    assert fit.converged
    log_post = np.array([c.log_posterior for c in fit.history])
    assert np.all(np.diff(log_post) >= -1e-12 * abs(log_post[0]))
    # Rejected jumps are not cycles: the history is plain EM's, cycle for cycle.
    assert [c.log_posterior for c in fit.history] == [c.log_posterior for c in plain.history]
