"""UI strings of the webmail app."""
STRINGS = {
    "vi": {
        "inbox": "Hộp thư đến", "sent": "Thư đã gửi", "compose": "Soạn thư", "from": "Người gửi", "to": "Người nhận",
        "subject": "Tiêu đề", "body": "Nội dung", "send": "Gửi", "date": "Ngày", "empty": "Không có thư.",
        "sent_ok": "Đã gửi thư.", "bad_recipient": "Địa chỉ người nhận không hợp lệ.", "no_email":
        "Tài khoản chưa có địa chỉ thư điện tử.", "missing_subject": "Cần nhập tiêu đề.",
        "welcome_subject": "Chào mừng đến với hệ thống thư điện tử",
        "welcome_body": "Hộp thư của bạn đã sẵn sàng. Bạn đăng nhập qua hệ thống xác thực một lần của Bộ.",
    },
    "en": {
        "inbox": "Inbox", "sent": "Sent", "compose": "Compose", "from": "From", "to": "To",
        "subject": "Subject", "body": "Message", "send": "Send", "date": "Date", "empty": "No messages.",
        "sent_ok": "Message sent.", "bad_recipient": "The recipient address is not valid.", "no_email":
        "Your account has no e-mail address.", "missing_subject": "A subject is required.",
        "welcome_subject": "Welcome to webmail",
        "welcome_body": "Your mailbox is ready. You signed in through the ministry's single sign-on.",
    },
}
