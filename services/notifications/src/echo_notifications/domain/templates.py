# ruff: noqa: RUF001 - Chinese text uses full-width punctuation on purpose
"""Message templates in every supported language, and local date-time formatting.

Each language has the same keys with the same placeholders (a unit test enforces it). At send
time a missing key falls back to English, so a gap in a translation never stops a message.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from echo_notifications.domain.model import DEFAULT_LANGUAGE

CATALOG: dict[str, dict[str, str]] = {
    "en": {
        "registration_confirmed.subject": "You are registered: {programme}",
        "registration_confirmed.body": (
            "Hello {name},\n\nYou are registered for the ECHO programme {programme}."
            " You will receive a reminder the day before and an hour before each session.\n"
        ),
        "reminder_day_before.subject": "Tomorrow: {programme} session, {when}",
        "reminder_day_before.body": (
            "Hello {name},\n\nReminder: the {programme} session is tomorrow, {when}.\n\n"
            "Agenda:\n{agenda}\n\nJoin: {join_url}\n"
        ),
        "reminder_hour_before.subject": "In one hour: {programme} session, {when}",
        "reminder_hour_before.body": (
            "Hello {name},\n\nThe {programme} session starts in one hour, {when}.\n\n"
            "Join: {join_url}\n"
        ),
        "session_rescheduled.subject": "Session moved: {programme}, now {when}",
        "session_rescheduled.body": (
            "Hello {name},\n\nThe {programme} session of {previous} has moved to {when}."
            " The attached calendar entry replaces the previous one.\n\nJoin: {join_url}\n"
        ),
        "session_cancelled.subject": "Session cancelled: {programme}, {when}",
        "session_cancelled.body": (
            "Hello {name},\n\nThe {programme} session of {when} is cancelled."
            " The attached calendar entry removes it from your calendar.\n"
        ),
        "case_submitted.subject": "New case submitted to {programme}",
        "case_submitted.body": (
            "Hello {name},\n\nA case ({case_ref}) was submitted to {programme} and waits for"
            " review.\n"
        ),
        "case_approved.subject": "Your case was approved: {programme}",
        "case_approved.body": (
            "Hello {name},\n\nYour case ({case_ref}) was approved for presentation in"
            " {programme}. The facilitator will put it on a session agenda.\n"
        ),
        "case_rejected.subject": "Your case needs changes: {programme}",
        "case_rejected.body": (
            "Hello {name},\n\nYour case ({case_ref}) for {programme} was not accepted.\n\n"
            "Reason: {reason}\n"
        ),
        "recommendations_issued.subject": "Recommendations for your case: {programme}",
        "recommendations_issued.body": (
            "Hello {name},\n\nThe hub team issued recommendations for your case ({case_ref})"
            " in {programme}. Read them in the ECHO portal.\n"
        ),
        "certificate_issued.subject": "Your certificate is ready: {programme}",
        "certificate_issued.body": (
            "Hello {name},\n\nYour certificate for {programme} ({hours} hours) is ready to"
            " download from the ECHO portal.\n"
        ),
        "agenda.topic": "- Didactic: {topic}",
        "agenda.presenter": "- Presenter: {presenter}",
        "agenda.cases": "- Case presentations: {cases}",
        "agenda.none": "- To be announced",
        "evaluation_requested.subject": "Your feedback on the {programme} session",
        "evaluation_requested.body": (
            "Hello {name},\n\nPlease tell us about {session}. The survey takes a few minutes"
            " and helps the hub team improve the programme.\n\nAnswer here: {response_url}\n\n"
            "The survey closes on {closes}. The link is personal: please do not forward it.\n"
        ),
        "recording_available.subject": "Recording in the library: {programme}",
        "recording_available.body": (
            "Hello {name},\n\nThe recording of {session} is now in the programme's library:"
            "\n{library_url}\n"
        ),
        "recommendations_recorded.subject": "Recommendations for your case: {programme}",
        "recommendations_recorded.body": (
            "Hello {name},\n\nThe hub team's recommendations for your case ({case_ref}) in"
            " {programme}:\n\n{recommendations}\n{follow_up}"
        ),
        "recommendations.follow_up": (
            "\nThe hub team asks you to present a follow-up of this case by {due}.\n"
        ),
        "session.dated": "the {programme} session of {when}",
        "session.undated": "a recent {programme} session",
        "someone": "colleague",
        "programme": "your programme",
    },
    "fr": {
        "registration_confirmed.subject": "Inscription confirmée : {programme}",
        "registration_confirmed.body": (
            "Bonjour {name},\n\nVous êtes inscrit(e) au programme ECHO {programme}."
            " Vous recevrez un rappel la veille et une heure avant chaque séance.\n"
        ),
        "reminder_day_before.subject": "Demain : séance {programme}, {when}",
        "reminder_day_before.body": (
            "Bonjour {name},\n\nRappel : la séance {programme} a lieu demain, {when}.\n\n"
            "Ordre du jour :\n{agenda}\n\nRejoindre : {join_url}\n"
        ),
        "reminder_hour_before.subject": "Dans une heure : séance {programme}, {when}",
        "reminder_hour_before.body": (
            "Bonjour {name},\n\nLa séance {programme} commence dans une heure, {when}.\n\n"
            "Rejoindre : {join_url}\n"
        ),
        "session_rescheduled.subject": "Séance déplacée : {programme}, désormais {when}",
        "session_rescheduled.body": (
            "Bonjour {name},\n\nLa séance {programme} du {previous} est déplacée au {when}."
            " L'entrée d'agenda jointe remplace la précédente.\n\nRejoindre : {join_url}\n"
        ),
        "session_cancelled.subject": "Séance annulée : {programme}, {when}",
        "session_cancelled.body": (
            "Bonjour {name},\n\nLa séance {programme} du {when} est annulée."
            " L'entrée d'agenda jointe la retire de votre calendrier.\n"
        ),
        "case_submitted.subject": "Nouveau cas soumis à {programme}",
        "case_submitted.body": (
            "Bonjour {name},\n\nUn cas ({case_ref}) a été soumis à {programme} et attend"
            " une revue.\n"
        ),
        "case_approved.subject": "Votre cas est approuvé : {programme}",
        "case_approved.body": (
            "Bonjour {name},\n\nVotre cas ({case_ref}) est approuvé pour présentation dans"
            " {programme}. L'animateur l'inscrira à l'ordre du jour d'une séance.\n"
        ),
        "case_rejected.subject": "Votre cas doit être modifié : {programme}",
        "case_rejected.body": (
            "Bonjour {name},\n\nVotre cas ({case_ref}) pour {programme} n'a pas été"
            " accepté.\n\nMotif : {reason}\n"
        ),
        "recommendations_issued.subject": "Recommandations pour votre cas : {programme}",
        "recommendations_issued.body": (
            "Bonjour {name},\n\nL'équipe du hub a émis des recommandations pour votre cas"
            " ({case_ref}) dans {programme}. Consultez-les sur le portail ECHO.\n"
        ),
        "certificate_issued.subject": "Votre attestation est prête : {programme}",
        "certificate_issued.body": (
            "Bonjour {name},\n\nVotre attestation pour {programme} ({hours} heures) est"
            " disponible sur le portail ECHO.\n"
        ),
        "agenda.topic": "- Exposé : {topic}",
        "agenda.presenter": "- Présentateur : {presenter}",
        "agenda.cases": "- Présentations de cas : {cases}",
        "agenda.none": "- À venir",
        "evaluation_requested.subject": "Votre avis sur la séance {programme}",
        "evaluation_requested.body": (
            "Bonjour {name},\n\nDonnez-nous votre avis sur {session}. Le questionnaire prend"
            " quelques minutes et aide l'équipe du hub à améliorer le programme.\n\n"
            "Répondre : {response_url}\n\nLe questionnaire ferme le {closes}. Ce lien est"
            " personnel : merci de ne pas le transférer.\n"
        ),
        "recording_available.subject": "Enregistrement dans la bibliothèque : {programme}",
        "recording_available.body": (
            "Bonjour {name},\n\nL'enregistrement est maintenant dans la bibliothèque du"
            " programme, pour {session} :\n{library_url}\n"
        ),
        "recommendations_recorded.subject": "Recommandations pour votre cas : {programme}",
        "recommendations_recorded.body": (
            "Bonjour {name},\n\nLes recommandations de l'équipe du hub pour votre cas"
            " ({case_ref}) dans {programme} :\n\n{recommendations}\n{follow_up}"
        ),
        "recommendations.follow_up": (
            "\nL'équipe du hub vous demande de présenter un suivi de ce cas d'ici le {due}.\n"
        ),
        "session.dated": "la séance {programme} du {when}",
        "session.undated": "une séance récente de {programme}",
        "someone": "collègue",
        "programme": "votre programme",
    },
    "zh-Hans": {
        "registration_confirmed.subject": "报名成功：{programme}",
        "registration_confirmed.body": (
            "{name}，您好：\n\n您已成功报名 ECHO 项目 {programme}。"
            "每次课程前一天和前一小时，您都会收到提醒。\n"
        ),
        "reminder_day_before.subject": "明天：{programme} 课程，{when}",
        "reminder_day_before.body": (
            "{name}，您好：\n\n提醒：{programme} 课程将于明天 {when} 举行。\n\n"
            "议程：\n{agenda}\n\n加入链接：{join_url}\n"
        ),
        "reminder_hour_before.subject": "一小时后：{programme} 课程，{when}",
        "reminder_hour_before.body": (
            "{name}，您好：\n\n{programme} 课程将在一小时后开始（{when}）。\n\n"
            "加入链接：{join_url}\n"
        ),
        "session_rescheduled.subject": "课程改期：{programme}，新时间 {when}",
        "session_rescheduled.body": (
            "{name}，您好：\n\n原定于 {previous} 的 {programme} 课程已改至 {when}。"
            "附件中的日历条目将替换原条目。\n\n加入链接：{join_url}\n"
        ),
        "session_cancelled.subject": "课程取消：{programme}，{when}",
        "session_cancelled.body": (
            "{name}，您好：\n\n原定于 {when} 的 {programme} 课程已取消。"
            "附件中的日历条目会将其从您的日历中删除。\n"
        ),
        "case_submitted.subject": "{programme} 收到新病例",
        "case_submitted.body": (
            "{name}，您好：\n\n{programme} 收到一个新病例（{case_ref}），等待审核。\n"
        ),
        "case_approved.subject": "您的病例已获批准：{programme}",
        "case_approved.body": (
            "{name}，您好：\n\n您的病例（{case_ref}）已获准在 {programme} 中汇报。"
            "主持人会将其安排进课程议程。\n"
        ),
        "case_rejected.subject": "您的病例需要修改：{programme}",
        "case_rejected.body": (
            "{name}，您好：\n\n您提交给 {programme} 的病例（{case_ref}）未被接受。\n\n"
            "原因：{reason}\n"
        ),
        "recommendations_issued.subject": "您的病例已有建议：{programme}",
        "recommendations_issued.body": (
            "{name}，您好：\n\n专家团队已就您在 {programme} 中的病例（{case_ref}）给出建议，"
            "请在 ECHO 门户中查看。\n"
        ),
        "certificate_issued.subject": "您的证书已可下载：{programme}",
        "certificate_issued.body": (
            "{name}，您好：\n\n您在 {programme} 的证书（{hours} 学时）已可在 ECHO 门户下载。\n"
        ),
        "agenda.topic": "- 专题讲座：{topic}",
        "agenda.presenter": "- 讲者：{presenter}",
        "agenda.cases": "- 病例汇报：{cases} 个",
        "agenda.none": "- 待定",
        "evaluation_requested.subject": "请评价 {programme} 课程",
        "evaluation_requested.body": (
            "{name}，您好：\n\n请告诉我们您对{session}的看法。问卷只需几分钟，"
            "可帮助专家团队改进项目。\n\n填写链接：{response_url}\n\n"
            "问卷将于 {closes} 关闭。此链接仅供您本人使用，请勿转发。\n"
        ),
        "recording_available.subject": "录像已上传至资料库：{programme}",
        "recording_available.body": (
            "{name}，您好：\n\n{session}的录像已上传至项目资料库：\n{library_url}\n"
        ),
        "recommendations_recorded.subject": "您的病例已有建议：{programme}",
        "recommendations_recorded.body": (
            "{name}，您好：\n\n专家团队对您在 {programme} 中的病例（{case_ref}）的建议如下：\n\n"
            "{recommendations}\n{follow_up}"
        ),
        "recommendations.follow_up": "\n专家团队请您在 {due} 前汇报此病例的随访情况。\n",
        "session.dated": "{when} 的 {programme} 课程",
        "session.undated": "最近一次 {programme} 课程",
        "someone": "同事",
        "programme": "您的项目",
    },
}

#: Every message a template can render (the `.subject` / `.body` pairs of the catalog).
TEMPLATES = tuple(
    sorted(k.removesuffix(".subject") for k in CATALOG[DEFAULT_LANGUAGE] if k.endswith(".subject"))
)

_WEEKDAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "fr": ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
    "zh-Hans": ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"],
}
_MONTHS = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "fr": [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    "zh-Hans": [f"{m}月" for m in range(1, 13)],
}


def placeholders(text: str) -> set[str]:
    """The `{names}` a template text uses."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def text(language: str, key: str) -> str:
    """The catalog text of `key` in `language`, English when the translation lacks it."""
    found = CATALOG.get(language, {}).get(key)
    return found if found is not None else CATALOG[DEFAULT_LANGUAGE][key]


def local_time(moment: datetime, tz: ZoneInfo, language: str) -> str:
    """A start time as a reader in `tz` says it, e.g. `Tuesday 12 January 2027, 12:00 EST`."""
    local = moment.astimezone(tz)
    weekday = _WEEKDAYS.get(language, _WEEKDAYS["en"])[local.weekday()]
    month = _MONTHS.get(language, _MONTHS["en"])[local.month - 1]
    clock = local.strftime("%H:%M")
    label = f"{tz.key}"
    if language == "zh-Hans":
        return f"{local.year}年{month}{local.day}日（{weekday}）{clock}（{label}）"
    if language == "fr":
        return f"{weekday} {local.day} {month} {local.year}, {clock} ({label})"
    return f"{weekday} {local.day} {month} {local.year}, {clock} ({label})"


def local_date(day: date, language: str) -> str:
    """A calendar date as a reader says it, e.g. `12 January 2027`."""
    month = _MONTHS.get(language, _MONTHS["en"])[day.month - 1]
    if language == "zh-Hans":
        return f"{day.year}年{month}{day.day}日"
    return f"{day.day} {month} {day.year}"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def render(template: str, language: str, values: dict[str, str]) -> Rendered:
    """Fill one template's subject and body in `language`."""
    filled = _Blank(values)
    return Rendered(
        subject=text(language, f"{template}.subject").format_map(filled),
        text=text(language, f"{template}.body").format_map(filled),
    )


def agenda_lines(language: str, topic: str | None, presenter: str | None, cases: int) -> str:
    """The agenda block of a day-before reminder."""
    lines = []
    if topic:
        lines.append(text(language, "agenda.topic").format(topic=topic))
    if presenter:
        lines.append(text(language, "agenda.presenter").format(presenter=presenter))
    if cases:
        lines.append(text(language, "agenda.cases").format(cases=cases))
    return "\n".join(lines) if lines else text(language, "agenda.none")
