"""SBD's boundary rule on hand-made loss sequences, events, segment names, the segments format
and the evaluation's matching: exact positions, no model."""

import json

import numpy as np
import pytest

from mcagent.errors import UserError
from mcagent.sbd.boundary import (BoundaryRule, FixedLosses, boundaries_of_losses,
                                  event_boundaries, find_boundaries, name_segment)
from mcagent.sbd.evaluate import (Score, fixed_boundaries, match_boundaries, random_boundaries,
                                  score)
from mcagent.sbd.segments import (FORMAT, Segment, Segmentation, read_segmentation,
                                  write_segmentation)


# -- the loss rule ------------------------------------------------------------

def test_a_spike_above_the_running_mean_is_a_boundary():
    # t=5: mean of [1,1,1,1,1,5] = 5/3, 5 - 5/3 = 3.33 > 2
    assert boundaries_of_losses([1, 1, 1, 1, 1, 5, 1, 1], gap=2, min_length=3) == [5]


def test_the_mean_includes_the_current_loss():
    # t=2: [1, 1, 4] has mean 2, 4 - 2 = 2, not more than the gap 2; a mean without
    # the current loss (1) would have made it a boundary.
    assert boundaries_of_losses([1, 1, 4], gap=2, min_length=1) == []
    assert boundaries_of_losses([1, 1, 4.01], gap=2, min_length=1) == [2]


def test_no_boundary_before_the_minimum_length():
    losses = [1, 1, 9, 1, 1, 1, 1]
    assert boundaries_of_losses(losses, gap=2, min_length=3) == []
    assert boundaries_of_losses(losses, gap=2, min_length=2) == [2]


def test_the_running_list_restarts_at_a_boundary():
    # After the boundary at 4 the new segment is [6, 6, 6, 6, 9]: 9 - 6.6 = 2.4 > 2, at 8.
    # Had the list kept the old losses (mean 3.7), 9 would count as a boundary too,
    # but so would 6 at t=5; the restart is what keeps 5..7 quiet.
    losses = [1, 1, 1, 1, 6, 6, 6, 6, 9, 9]
    assert boundaries_of_losses(losses, gap=2, min_length=2) == [4, 8]


def test_minimum_length_counts_from_the_new_segment():
    losses = [1, 1, 1, 1, 8, 1, 20, 1, 1, 1, 30, 1]
    # boundary at 4; 6 is only 2 frames into the new segment (min 3); 10 is 6 in
    assert boundaries_of_losses(losses, gap=2, min_length=3) == [4, 10]


def test_flat_or_falling_losses_never_cut():
    assert boundaries_of_losses([3.0] * 50, gap=0.0, min_length=1) == []
    assert boundaries_of_losses(list(np.linspace(5, 0, 50)), gap=0.0, min_length=1) == []


def test_the_model_memory_resets_at_a_boundary_and_the_frame_is_scored_again():
    class Fresh:
        """Loss 5 on the first frame after a reset, then 1; frame 6 is a surprise (9)."""

        def __init__(self):
            self.resets, self.since, self.calls = 0, 0, []

        def reset(self):
            self.resets += 1
            self.since = 0

        def score(self, t):
            self.calls.append(t)
            self.since += 1
            return 9.0 if t == 6 and self.since > 1 else (5.0 if self.since == 1 else 1.0)

    scorer = Fresh()
    result = find_boundaries(10, scorer, BoundaryRule("loss", gap=2, min_length=3))
    assert result.boundaries == (6,)
    assert scorer.resets == 2                  # at the start and at the boundary
    assert scorer.calls == [0, 1, 2, 3, 4, 5, 6, 6, 7, 8, 9]
    assert result.losses[6] == 5.0             # the loss of the re-scored frame
    assert result.running_mean[6] == 5.0 and result.running_mean[7] == 3.0


# -- events -------------------------------------------------------------------

def test_event_boundaries_follow_the_last_frame_of_each_run_of_like_events():
    events = [[], ["collect_wood", "obtain:wood"], [], ["collect_wood", "obtain:wood"], [],
              ["place_table", "consume:wood"], ["make_wood_pickaxe"], ["hurt:zombie"], [],
              ["defeat_zombie"], []]
    # the two collect_wood frames are one run (ends at 3); hurt is not a skill event
    assert event_boundaries(events) == [4, 6, 7, 10]
    # like events far apart are separate skills
    assert event_boundaries(events, run_gap=1) == [2, 4, 6, 7, 10]


def test_an_event_on_the_last_frame_makes_no_boundary():
    assert event_boundaries([[], [], ["collect_wood"]]) == []
    assert event_boundaries([None, None]) == []


def test_info_mode_cuts_at_events_subject_to_the_minimum_length():
    rule = BoundaryRule("info", gap=0, min_length=4)
    assert find_boundaries(20, None, rule, [3, 9, 11, 16]).boundaries == (9, 16)
    assert np.isnan(find_boundaries(5, None, rule, []).losses).all()


def test_loss_mode_ignores_events_and_loss_info_takes_both():
    losses = [1] * 6 + [8] + [1] * 13
    fixed = [12]
    assert boundaries_of_losses(losses, 2, 3, fixed, mode="loss") == [6]
    assert boundaries_of_losses(losses, 2, 3, fixed, mode="info") == [12]
    assert boundaries_of_losses(losses, 2, 3, fixed, mode="loss+info") == [6, 12]
    # an event 2 frames after a loss boundary is dropped (min length 3)
    assert boundaries_of_losses(losses, 2, 3, [8], mode="loss+info") == [6]


def test_an_event_boundary_resets_the_running_mean():
    # Without the event boundary at 5, 4.5 at t=8 is 2.25 above the mean of eight
    # frames; after it, the segment 5..8 is [4, 4, 4, 4.5], 0.375 above its mean.
    losses = [1, 1, 1, 1, 1, 4, 4, 4, 4.5, 4]
    assert boundaries_of_losses(losses, 2, 2, [5], mode="loss+info") == [5]


def test_segments_are_named_by_their_events():
    assert name_segment([[], ["collect_wood", "obtain:wood"], ["collect_wood", "obtain:wood"],
                         ["place_table", "consume:wood"]]) == "collect_wood"
    assert name_segment([["obtain:log"], []]) == "obtain:log"
    assert name_segment([[], ["hurt:zombie"], None]) is None
    # equally frequent: the later one, which ends the segment
    assert name_segment([["eat_cow"], ["collect_drink"]]) == "collect_drink"


def test_bad_rule_parameters_are_refused():
    with pytest.raises(ValueError, match="mode"):
        BoundaryRule("lossy")
    with pytest.raises(ValueError, match="min_length"):
        BoundaryRule("loss", 1.0, 0)
    with pytest.raises(ValueError, match="gap"):
        BoundaryRule("loss", -1.0, 2)
    with pytest.raises(ValueError, match="scorer"):
        find_boundaries(3, None, BoundaryRule("loss"))


# -- the segments format ------------------------------------------------------

def test_segments_round_trip(tmp_path):
    seg = Segmentation.from_boundaries("ep", "sbd-loss+info", 100, [42, 10],
                                       [None, "collect_wood", "place_table"])
    assert seg.segments == (Segment(0, 9, None), Segment(10, 41, "collect_wood"),
                            Segment(42, 99, "place_table"))
    path = write_segmentation(seg, tmp_path)
    assert path.name == "ep.segments.json"
    data = json.loads(path.read_text())
    assert data == {"format": FORMAT, "video": "ep", "method": "sbd-loss+info", "frames": 100,
                    "segments": [{"start": 0, "end": 9, "skill": None},
                                 {"start": 10, "end": 41, "skill": "collect_wood"},
                                 {"start": 42, "end": 99, "skill": "place_table"}]}
    back = read_segmentation(path)
    assert back == seg and back.boundaries == [10, 42]


@pytest.mark.parametrize("segments, message", [
    ([{"start": 0, "end": 4}, {"start": 6, "end": 9}], "starts at frame 6, expected 5"),
    ([{"start": 0, "end": 8}], "cover frames 0..8, but the recording has 10"),
    ([{"start": 1, "end": 9}], "starts at frame 1, expected 0"),
    ([{"start": 0, "end": 9, "skill": 3}], "skill must be a name"),
    ([{"start": 0, "end": "9"}], "integer start and end"),
])
def test_bad_segment_files_are_refused_with_the_reason(tmp_path, segments, message):
    path = tmp_path / "ep.segments.json"
    path.write_text(json.dumps({"format": FORMAT, "video": "ep", "method": "x", "frames": 10,
                                "segments": segments}))
    with pytest.raises(UserError, match=message) as err:
        read_segmentation(path)
    assert str(path) in str(err.value)


def test_unreadable_segment_files(tmp_path):
    path = tmp_path / "ep.segments.json"
    with pytest.raises(UserError, match="missing"):
        read_segmentation(path)
    path.write_bytes(b"\xff\x00garbage")
    with pytest.raises(UserError, match="not valid JSON"):
        read_segmentation(path)
    path.write_text(json.dumps({"format": "mcagent-segments/9"}))
    with pytest.raises(UserError, match="is not 'mcagent-segments/1'"):
        read_segmentation(path)


# -- matching and baselines ---------------------------------------------------

def test_matching_is_one_to_one_within_the_tolerance():
    assert match_boundaries([10], [12], 3) == 1
    assert match_boundaries([10], [14], 3) == 0
    assert match_boundaries([10, 11], [12], 3) == 1          # one true boundary, once
    assert match_boundaries([10], [8, 12], 3) == 1
    # greedy to the earliest free one keeps both pairs: 5-3 and 8-7
    assert match_boundaries([5, 8], [3, 7], 3) == 2
    assert match_boundaries([], [1, 2]) == 0


def test_scores():
    s = score([10, 20, 30, 40], [11, 50], 3)
    assert (s.matched, s.predicted, s.true) == (1, 4, 2)
    assert s.precision == 0.25 and s.recall == 0.5 and s.f1 == pytest.approx(1 / 3)
    assert Score().f1 == 0.0
    assert (score([1], [1]) + score([], [5])).figures()["recall"] == 0.5


def test_baseline_boundaries():
    assert fixed_boundaries(100, 32) == [32, 64, 96]
    b = random_boundaries(50, 7, np.random.default_rng(0))
    assert len(b) == len(set(b)) == 7 and all(0 < x < 50 for x in b)


def test_a_one_frame_spike_is_no_boundary_when_confirmation_is_asked():
    odd = [1.0] * 6 + [8.0] + [1.0] * 5           # one odd action, then the skill goes on
    new = [1.0] * 6 + [8.0, 4.0] + [1.0] * 4      # the frame after is still surprising
    for losses, want in ((odd, ()), (new, (6,))):
        rule = BoundaryRule("loss", gap=2, min_length=1, confirm=-1.0)
        assert find_boundaries(len(losses), FixedLosses(losses), rule).boundaries == want
    plain = BoundaryRule("loss", gap=2, min_length=1)
    assert find_boundaries(len(odd), FixedLosses(odd), plain).boundaries == (6,)
