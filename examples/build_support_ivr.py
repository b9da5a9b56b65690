"""Build the support line of support_ivr.yaml with the Python builder, then run it.

    python examples/build_support_ivr.py
"""

from __future__ import annotations

from pathlib import Path

from univoice import CalleeScript, Flow, simulate

VOICEMAIL = {"max_length": 120, "transcribe": True, "transcribe_language": "en-US"}


def build() -> Flow:
    sales = (
        Flow.builder()
        .say("Connecting you to sales.")
        .transfer(
            "+31201234567",
            timeout=25,
            no_answer=Flow.builder()
            .say("Sales is busy right now. Please leave a message after the tone.")
            .record(**VOICEMAIL)
            .say("Thank you, we will call you back."),
        )
        .hangup()
    )
    engineer = (
        Flow.builder()
        .gather("ticket", "Enter your ticket number, then press hash.",
                max_digits=8, finish_on_key="#", timeout=8)
        .say("Thank you. Connecting you to an engineer about ticket {ticket}.")
        .transfer(
            "+31201234569", "sip:oncall@support.acme.example",
            caller_id="+31201234560", timeout=30, record=True,
            no_answer=Flow.builder()
            .say("All engineers are busy. Please leave a message after the tone.")
            .record(max_length=180, silence_timeout=5),
        )
        .hangup()
    )
    support = Flow.builder().menu(
        "For billing, press 1. For technical support, press 2.",
        retries=1,
        options={
            "1": Flow.builder().say("Connecting you to billing.").transfer("+31201234568")
            .hangup(),
            "2": engineer,
        },
    )
    voicemail = (
        Flow.builder()
        .say("Please leave a message after the tone. Press hash when you are done.")
        .record(**VOICEMAIL)
        .say("Thank you. Goodbye.")
        .hangup()
    )
    return (
        Flow.builder(name="Acme support line", language="en-US", gender="female")
        .say("Thank you for calling Acme.")
        .menu(
            "For sales, press 1. For support, press 2. To leave a message, press 3.",
            timeout=5,
            retries=2,
            options={"1": sales, "2": support, "3": voicemail},
            no_input=Flow.builder().say("We did not hear a choice. Please call again. Goodbye."),
            invalid=Flow.builder().say(
                "Sorry, that is not an option. Please call again. Goodbye."),
        )
        .hangup()
        .build()
    )


if __name__ == "__main__":
    ivr = build()
    same = ivr == Flow.from_yaml(Path(__file__).with_name("support_ivr.yaml"))
    print(f"built {len(ivr.steps)} top-level steps; equal to support_ivr.yaml: {same}")
    print(simulate(ivr, CalleeScript.presses("2", "2", "12345#")).transcript())
