"""Writing the bank: questions, versions, publication to exams, retirement, import."""
