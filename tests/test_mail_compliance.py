"""The compliance footer every marketing email keeps (app.mail): sign-off, postal address, unsubscribe link."""

from __future__ import annotations

from app.mail import (
    compliance_footer,
    compose,
    missing_compliance,
    postal_address,
    unsubscribe_headers,
    with_compliance_footer,
)

EDIT = "Hi Lucas, edited body."


def test_an_edit_without_the_footer_gets_it_back_once():
    body, added = with_compliance_footer(EDIT, "C00409", "United States")
    assert added == ["sender signature", "postal address", "unsubscribe link"]
    assert body == (
        "Hi Lucas, edited body.\n\nBest regards,\nMaria Jensen\nCustomer Success Lead, Lumio\n\n"
        "Lumio, Inc., Austin, Texas\nUnsubscribe: https://lumio.io/unsubscribe?customer=C00409"
    )
    assert body.endswith(compliance_footer("C00409", "United States"))
    assert with_compliance_footer(body, "C00409", "United States") == (body, [])  # idempotent


def test_only_the_missing_parts_are_added_and_eu_contacts_get_the_eu_address():
    signed = "Hi Anna,\n\nSee you soon.\n\nBest regards,\nMaria Jensen\nCustomer Success Lead, Lumio"
    body, added = with_compliance_footer(signed, "C00015", "Germany")
    assert added == ["postal address", "unsubscribe link"]
    assert body == f"{signed}\n\nLumio B.V., Rotterdam\nUnsubscribe: https://lumio.io/unsubscribe?customer=C00015"
    assert body.count("Maria Jensen") == 1


def test_another_customers_unsubscribe_link_does_not_count():
    body = compliance_footer("C00001", None)
    assert missing_compliance(body, "C00002", None) == ["unsubscribe link"]


def test_the_list_unsubscribe_header_names_the_recipients_link():
    message = compose(
        from_address="Lumio <hello@lumio.io>",
        to="Lucas <lucas@example.com>",
        subject="Hi",
        body="text",
        msg_id="<x@lumio.io>",
        headers=unsubscribe_headers("C00409"),
    )
    assert message["List-Unsubscribe"] == "<https://lumio.io/unsubscribe?customer=C00409>"


def test_a_draft_from_the_offline_writer_already_has_the_footer_the_outbox_checks():
    """The writer and the outbox share `app.mail`'s footer wording, so a draft is never given a second footer."""
    from graph.llm.writers import write_email
    from graph.tools.marketing import email_values

    for country in ("Germany", "United States"):
        ctx = {
            "customer_id": "C00409",
            "name": "Lucas",
            "plan": "Growth",
            "status": "active",
            "address": postal_address(country),
        }
        draft = write_email(email_values(ctx))
        assert missing_compliance(draft, "C00409", country) == []
        assert with_compliance_footer(draft, "C00409", country) == (draft, [])
        assert draft.count("Unsubscribe:") == 1 and draft.count("Best regards,") == 1
