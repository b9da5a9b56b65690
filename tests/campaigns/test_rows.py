"""A campaign's list is checked row by row before anything is dialled."""

from __future__ import annotations

import pytest

from univoice.campaigns.outcomes import Outcome, joined, to_csv
from univoice.campaigns.rows import InvalidList, parse, personalize
from univoice.campaigns.state import RowState
from univoice.flow import Flow

FLOW = Flow.from_dict({"name": "r", "inputs": ["name", "slot"], "steps": [
    {"say": "Hello {name}, your slot is {slot}. {{literal}}"}, "hangup"]})
PLAIN = Flow.builder().say("Hi").hangup().build()


def test_bad_rows_are_reported_with_their_line_and_good_rows_kept() -> None:
    text = ("to,name,slot\n"
            "+31612345678,Ann,9:00\n"
            "\n"
            "0612345678,Bob,10:00\n"
            "+31612345678,Ann again,11:00\n"
            "+31612345679,Cid\n"
            '+31612345670,"Dee, ""the"" first",12:00\n'
            f"+31612345671,{'x' * 1001},13:00\n")
    calls = parse(text, FLOW)
    assert [r.line for r in calls.rows] == [2, 7]
    assert calls.rows[1].variables == {"name": 'Dee, "the" first', "slot": "12:00"}
    bad = {b.line: str(b) for b in calls.bad}
    assert set(bad) == {4, 5, 6, 8}
    assert "not an E.164 number" in bad[4]
    assert "already listed on line 2" in bad[5]
    assert "2 fields, the header has 3" in bad[6]
    assert "longer than 1000" in bad[8]


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("name,slot\nAnn,9\n", "no number column"),
    ("to,name\n+31612345678,Ann\n", "the flow reads slot"),
    ("to,na-me,slot\n", "not a variable name"),
    ("to,name,name,slot\n", "named twice"),
    ('to,name,slot\n"+3161,unterminated\n', "not CSV"),
])
def test_a_list_that_cannot_serve_the_flow_is_refused_whole(text: str, message: str) -> None:
    with pytest.raises(InvalidList, match=message):
        parse(text, FLOW)


def test_numbers_may_be_in_a_number_or_phone_column_and_from_is_checked() -> None:
    calls = parse("phone,from\n+31612345678,+31201234567\n+31612345679,12\n", PLAIN)
    assert calls.rows[0].from_ == "+31201234567"
    assert "from '12'" in str(calls.bad[0])


def test_values_are_literal_text_in_the_flow() -> None:
    flow = personalize(FLOW, {"name": "{slot} <b>", "slot": "9:00"})
    say = flow.to_dict()["steps"][0]["say"]
    text = say["text"] if isinstance(say, dict) else say
    assert text == "Hello {{slot}} <b>, your slot is 9:00. {{literal}}"
    assert flow.inputs == ()
    assert personalize(PLAIN, {"x": "1"}) is PLAIN


def test_the_export_keeps_spreadsheets_from_running_values_as_formulas() -> None:
    row = RowState("c", 2, "+31612345678", None, {"name": "=HYPERLINK(\"x\")"}, "placed",
                   "c-2", "call-1", "bandwidth", None, 1, 0.0, 0.0)
    text = to_csv(joined([row], {"call-1": Outcome(answered=True, ended="hangup",
                                                   digits=["1", "2"])}))
    header, line = text.splitlines()
    assert header.startswith("line,to,status,call_id")
    assert ",+31612345678," in line  # a number stays a number
    assert "'=HYPERLINK" in line and ",true,hangup,,1 2," in line
