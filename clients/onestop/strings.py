"""UI strings of the one-stop-shop app."""
STRINGS = {
    "vi": {
        "dossiers": "Hồ sơ thủ tục hành chính", "summary": "Tổng hợp", "code": "Mã hồ sơ", "procedure": "Thủ tục",
        "applicant": "Người nộp", "received_at": "Ngày tiếp nhận", "due_at": "Hạn trả kết quả", "state": "Trạng thái",
        "received": "Mới tiếp nhận", "in_progress": "Đang xử lý", "resolved_early": "Đã giải quyết trước hạn",
        "resolved_on_time": "Đã giải quyết đúng hạn", "resolved_late": "Đã giải quyết quá hạn", "overdue": "Quá hạn",
        "advance": "Chuyển xử lý", "resolve": "Phê duyệt kết quả", "moved": "Đã chuyển hồ sơ sang xử lý.",
        "resolved_ok": "Đã phê duyệt kết quả hồ sơ.", "wrong_state": "Hồ sơ không ở trạng thái phù hợp.",
        "total": "Tổng số",
    },
    "en": {
        "dossiers": "Administrative procedure dossiers", "summary": "Summary", "code": "Dossier code",
        "procedure": "Procedure", "applicant": "Applicant", "received_at": "Received", "due_at": "Due",
        "state": "State", "received": "Received", "in_progress": "In progress", "resolved_early": "Resolved early",
        "resolved_on_time": "Resolved on time", "resolved_late": "Resolved late", "overdue": "Overdue",
        "advance": "Start processing", "resolve": "Approve result", "moved": "Dossier moved to processing.",
        "resolved_ok": "Dossier resolved.", "wrong_state": "The dossier is not in the right state for that.",
        "total": "Total",
    },
}
